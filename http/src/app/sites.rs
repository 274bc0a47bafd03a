//! Site changes: a fresh public key per site (rotation stops the old one
//! at once), settings checked by `engine` (origins, colour, business hours,
//! pre-chat fields), the identity-verification secret generated here and
//! shown only to those who manage sites. Each change holds its tenant's lock.

use super::principal::Authed;
use super::ApiError;
use crate::admin::{new_site, site_key};
use crate::auth::random_key;
use crate::state::App;
use parley_engine::account::{
    site_forms, site_settings, BusinessHours, Position, PreChatField, SiteForms, SiteSettings,
    Theme,
};
use parley_engine::booking::bookings_need_hours;
use parley_engine::booking::ConsultationSettings;
use parley_engine::codes::error as code;
use parley_engine::permissions::Action;
use parley_engine::records::SiteRecord;
use parley_engine::*;
use parley_storage::{AccountStore, AuthStore, BookingStore, WriteBatch};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use utoipa::ToSchema;

/// The JSON view of a site; the identity secret only for `secrets`.
pub fn view(app: &App, s: &SiteRecord, settings: &SiteSettings, secrets: bool) -> Value {
    let mut set = serde_json::to_value(settings).unwrap_or_default();
    let forms = app.store.site_forms(s.tenant_id, s.id).unwrap_or_default();
    if let Some(o) = set.as_object_mut() {
        o.insert("services".into(), json!(forms.services));
        o.insert("consultations".into(), json!(forms.consultations));
        // What an unset `reopen_window_secs` means: the server's window.
        o.insert(
            "reopen_window_default_secs".into(),
            json!(app.config.conversation.reopen_window_secs),
        );
        let on = settings.identity_secret.is_some();
        o.insert("identity_verification".into(), json!(on));
        if !secrets {
            o.remove("identity_secret");
        }
    }
    json!({
        "id": s.id,
        "name": s.name,
        "key": s.key,
        "created_at": s.created_at,
        "installed_at": app.store.site_installed_at(s.tenant_id, s.id).unwrap_or_default(),
        "settings": set,
    })
}

/// Notes that the site's widget was loaded by a page at `origin`: the first
/// time that origin is not this server's own (its `/demo` and company pages
/// do not count), the site's snippet is installed and `installed_at` set.
pub async fn note_origin(app: &App, site: &SiteRecord, origin: &str, own_host: Option<&str>) {
    let Some(host) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return;
    };
    let public = app
        .public_url
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(""));
    if own_host.is_some_and(|h| h.eq_ignore_ascii_case(host))
        || public.is_some_and(|h| h.eq_ignore_ascii_case(host))
    {
        return;
    }
    match app.store.site_installed_at(site.tenant_id, site.id) {
        Ok(None) => {}
        Ok(Some(_)) => return,
        Err(e) => return tracing::warn!(site = %site.id, error = %e, "reading installed_at"),
    }
    let _guard = app.locks.tenant(site.tenant_id).await;
    if !matches!(
        app.store.site_installed_at(site.tenant_id, site.id),
        Ok(None)
    ) {
        return;
    }
    let mut b = WriteBatch::new();
    app.store
        .put_site_installed_at(&mut b, site.tenant_id, site.id, Timestamp::now());
    if let Err(e) = app.writer.write(b).await {
        tracing::warn!(site = %site.id, error = %e, "noting the snippet installed");
    }
}

/// A site of the caller's tenant (another tenant's id: not found).
pub fn find(app: &App, me: &Authed, id: &str) -> Result<SiteRecord, ApiError> {
    let id: SiteId = id.parse().map_err(|_| ApiError::not_found("site"))?;
    app.store
        .site(me.tenant(), id)?
        .ok_or_else(|| ApiError::not_found("site"))
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A site's name and settings; every field optional on `PATCH`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SiteInput {
    name: Option<String>,
    /// `https://example.com` origins that may embed the widget; empty: any.
    allowed_origins: Option<Vec<String>>,
    /// `#rrggbb`.
    color: Option<String>,
    /// `bottom_right` or `bottom_left`.
    #[schema(value_type = Option<String>)]
    position: Option<Position>,
    greeting: Option<String>,
    offline_message: Option<String>,
    /// `{timezone, days:[{day:"mon",open:"09:00",close:"17:00"}]}`; `null` removes them.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    business_hours: Option<Option<BusinessHours>>,
    /// Whether the widget offers chat only inside the business hours (the
    /// offline form outside them); `false`: chat stays open around the clock
    /// and the hours only bound bookings. Sites start with `true`.
    chat_only_in_hours: Option<bool>,
    /// `[{name, label, kind: text|email|phone, required}]`.
    #[schema(value_type = Option<Vec<Object>>)]
    pre_chat_fields: Option<Vec<PreChatField>>,
    /// Turns identity verification on (a secret is generated) or off.
    identity_verification: Option<bool>,
    /// The widget's colours: `auto` (follow the visitor's dark mode), `light` or `dark`.
    #[schema(value_type = Option<String>)]
    theme: Option<Theme>,
    /// Seconds (0 to 2592000, 30 days) after a close within which the
    /// visitor's next message reopens the conversation instead of starting
    /// a new one; `null`: the server's `conversation.reopen_window_secs`.
    #[serde(default, deserialize_with = "present")]
    reopen_window_secs: Option<Option<u64>>,
    /// What the contact form offers to pick from.
    services: Option<Vec<String>>,
    /// `{enabled, slot_minutes, buffer_minutes, min_notice_hours,
    /// horizon_days, topics:[…], staff:[ids]}` (missing keys: defaults).
    #[schema(value_type = Option<Object>)]
    consultations: Option<ConsultationSettings>,
}

impl SiteInput {
    /// Takes the form settings out of the input: the checked new ones when
    /// the input changes any, else `None`. Staff who take bookings must be
    /// staff of tenant `t`.
    pub fn take_forms(
        &mut self,
        app: &App,
        t: TenantId,
        mut f: SiteForms,
    ) -> Result<Option<SiteForms>, ApiError> {
        if self.services.is_none() && self.consultations.is_none() {
            return Ok(None);
        }
        if let Some(v) = self.services.take() {
            f.services = v;
        }
        if let Some(c) = self.consultations.take() {
            for s in &c.staff {
                if app.store.staff(t, *s)?.is_none() {
                    return Err(ApiError::bad_request(
                        code::INVALID,
                        format!("consultations.staff: {s} is not staff of this tenant"),
                    ));
                }
            }
            f.consultations = c;
        }
        Ok(Some(site_forms(f)?))
    }

    /// Applies the input to `s`; returns the checked settings.
    pub fn apply(
        self,
        site: &mut SiteRecord,
        mut s: SiteSettings,
    ) -> Result<SiteSettings, ApiError> {
        if let Some(n) = self.name {
            site.name = parley_engine::validate::name(&n)?;
        }
        if let Some(v) = self.allowed_origins {
            s.allowed_origins = v;
        }
        if let Some(v) = self.color {
            s.color = v;
        }
        if let Some(v) = self.position {
            s.position = v;
        }
        if let Some(v) = self.greeting {
            s.greeting = v;
        }
        if let Some(v) = self.offline_message {
            s.offline_message = v;
        }
        if let Some(v) = self.business_hours {
            s.business_hours = v;
        }
        if let Some(v) = self.chat_only_in_hours {
            s.chat_only_in_hours = v;
        }
        if let Some(v) = self.pre_chat_fields {
            s.pre_chat_fields = v;
        }
        if let Some(v) = self.theme {
            s.theme = v;
        }
        if let Some(v) = self.reopen_window_secs {
            s.reopen_window_secs = v;
        }
        match self.identity_verification {
            Some(true) if s.identity_secret.is_none() => {
                s.identity_secret = Some(format!("ids_{}", random_key(40)))
            }
            Some(false) => s.identity_secret = None,
            _ => {}
        }
        Ok(site_settings(s)?)
    }
}

/// Adds a site with a fresh public key.
pub async fn create(
    app: &App,
    me: &Authed,
    mut body: SiteInput,
) -> Result<(SiteRecord, SiteSettings), ApiError> {
    me.require(Action::ManageSites)?;
    let _guard = app.locks.tenant(me.tenant()).await;
    super::plans::room_for_site(app, me.tenant())?;
    if body.identity_verification == Some(true) {
        super::plans::require_feature(app, me.tenant(), "identity_verification")?;
    }
    let Some(name) = body.name.as_deref() else {
        return Err(ApiError::bad_request(code::INVALID, "a site needs a name"));
    };
    let mut site = new_site(me.tenant(), parley_engine::validate::name(name)?);
    let forms = body.take_forms(app, me.tenant(), SiteForms::default())?;
    let settings = body.apply(&mut site, SiteSettings::default())?;
    if let Some(f) = &forms {
        bookings_need_hours(&f.consultations, settings.business_hours.as_ref())?;
    }
    let mut b = WriteBatch::new();
    if let Some(f) = &forms {
        app.store.put_site_forms(&mut b, site.tenant_id, site.id, f);
    }
    app.store.put_site(&mut b, &site);
    app.store
        .put_site_settings(&mut b, site.tenant_id, site.id, &settings);
    me.audit(
        app,
        &mut b,
        "site.create",
        ("site", site.id.to_string()),
        json!({"name": site.name}),
    );
    app.writer.write(b).await?;
    Ok((site, settings))
}

/// Changes a site's name or settings.
pub async fn update(
    app: &App,
    me: &Authed,
    id: &str,
    mut body: SiteInput,
) -> Result<(SiteRecord, SiteSettings), ApiError> {
    let _guard = app.locks.tenant(me.tenant()).await;
    let mut site = find(app, me, id)?;
    me.require(Action::ManageSites)?;
    if body.identity_verification == Some(true) {
        super::plans::require_feature(app, me.tenant(), "identity_verification")?;
    }
    let before = app.store.site_settings(site.tenant_id, site.id)?;
    let old_forms = app.store.site_forms(site.tenant_id, site.id)?;
    let forms = body.take_forms(app, me.tenant(), old_forms.clone())?;
    let old_name = site.name.clone();
    let settings = body.apply(&mut site, before.clone())?;
    // Checked when either side changes, so an older site that has bookings
    // on without hours can still save its other settings.
    if forms.is_some() || settings.business_hours != before.business_hours {
        let f = forms.as_ref().unwrap_or(&old_forms);
        bookings_need_hours(&f.consultations, settings.business_hours.as_ref())?;
    }
    let mut changes = serde_json::Map::new();
    if old_name != site.name {
        changes.insert("name".into(), json!([old_name, site.name]));
    }
    if let Some(f) = forms.as_ref().filter(|f| **f != old_forms) {
        changes.insert("forms".into(), json!([old_forms, f]));
    }
    let (b_json, a_json) = (
        view(app, &site, &before, false),
        view(app, &site, &settings, false),
    );
    if let (Some(b), Some(a)) = (
        b_json["settings"].as_object(),
        a_json["settings"].as_object(),
    ) {
        for (k, v) in a {
            if b.get(k) != Some(v) {
                changes.insert(k.clone(), json!([b.get(k), v]));
            }
        }
    }
    let mut b = WriteBatch::new();
    app.store.put_site(&mut b, &site);
    app.store
        .put_site_settings(&mut b, site.tenant_id, site.id, &settings);
    if let Some(f) = &forms {
        app.store.put_site_forms(&mut b, site.tenant_id, site.id, f);
    }
    me.audit(
        app,
        &mut b,
        "site.update",
        ("site", site.id.to_string()),
        Value::Object(changes),
    );
    app.writer.write(b).await?;
    site_changed(app, &site).await;
    Ok((site, settings))
}

/// Removes a site: its key stops working at once.
pub async fn delete(app: &App, me: &Authed, id: &str) -> Result<(), ApiError> {
    let _guard = app.locks.tenant(me.tenant()).await;
    let site = find(app, me, id)?;
    me.require(Action::ManageSites)?;
    let mut b = WriteBatch::new();
    app.store.delete_site(&mut b, &site);
    me.audit(
        app,
        &mut b,
        "site.delete",
        ("site", site.id.to_string()),
        json!({"name": site.name}),
    );
    app.writer.write(b).await?;
    Ok(())
}

/// `POST /sites/{id}/rotate-key` body (optional).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// `site_key` (default) or `identity_secret`.
    key: Option<String>,
}

/// Replaces the public site key (the old one stops working) or the
/// identity-verification secret.
pub async fn rotate_key(
    app: &App,
    me: &Authed,
    id: &str,
    body: Rotate,
) -> Result<(SiteRecord, SiteSettings), ApiError> {
    let _guard = app.locks.tenant(me.tenant()).await;
    let mut site = find(app, me, id)?;
    me.require(Action::ManageSites)?;
    let which = body.key.unwrap_or_else(|| "site_key".into());
    let mut settings = app.store.site_settings(site.tenant_id, site.id)?;
    let mut b = WriteBatch::new();
    match which.as_str() {
        "site_key" => {
            let old = std::mem::replace(&mut site.key, site_key());
            app.store.rekey_site(&mut b, &old, &site);
        }
        "identity_secret" => {
            settings.identity_secret = Some(format!("ids_{}", random_key(40)));
            app.store
                .put_site_settings(&mut b, site.tenant_id, site.id, &settings);
        }
        _ => {
            return Err(ApiError::bad_request(
                code::INVALID,
                "key must be site_key or identity_secret",
            ))
        }
    }
    me.audit(
        app,
        &mut b,
        "site.rotate_key",
        ("site", site.id.to_string()),
        json!({"key": which}),
    );
    app.writer.write(b).await?;
    Ok((site, settings))
}

/// Tells the site's Tenant its settings changed, so `welcome` shows the new look.
async fn site_changed(app: &App, site: &SiteRecord) {
    let what = parley_actors::Tell::SiteChanged { site: site.id };
    crate::ws::tell(app, site.tenant_id, what).await;
}
