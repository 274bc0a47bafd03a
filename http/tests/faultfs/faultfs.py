"""A pass-through FUSE file system over a directory whose writes and fsyncs
fail (EIO) while a switch file exists: a real failing disk for the storage
tests. Writes fail too, not just fsync, because sled makes its log durable
with sync_file_range on Linux, which never reaches a FUSE file system
(without a writeback cache every write already goes straight to it).

    python3 faultfs.py BACKING_DIR MOUNT_POINT SWITCH_FILE

Needs fusepy (PyPI) and libfuse2 (apt). Runs in the foreground until
unmounted.
"""

import errno
import os
import sys

from fuse import FUSE, FuseOSError, Operations


class FaultFs(Operations):
    def __init__(self, root, switch):
        self.root = root
        self.switch = switch

    def _path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def _failing(self):
        if os.path.exists(self.switch):
            raise FuseOSError(errno.EIO)

    # Files
    def access(self, path, mode):
        if not os.access(self._path(path), mode):
            raise FuseOSError(errno.EACCES)

    def getattr(self, path, fh=None):
        st = os.lstat(self._path(path))
        keys = ("st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime",
                "st_nlink", "st_size", "st_uid", "st_blocks")
        return {k: getattr(st, k) for k in keys}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._path(path))

    def statfs(self, path):
        st = os.statvfs(self._path(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail",
                "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")
        return {k: getattr(st, k) for k in keys}

    def chmod(self, path, mode):
        os.chmod(self._path(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self._path(path), uid, gid)

    def utimens(self, path, times=None):
        os.utime(self._path(path), times)

    def mkdir(self, path, mode):
        os.mkdir(self._path(path), mode)

    def rmdir(self, path):
        os.rmdir(self._path(path))

    def unlink(self, path):
        os.unlink(self._path(path))

    def rename(self, old, new):
        os.rename(self._path(old), self._path(new))

    def truncate(self, path, length, fh=None):
        if fh is not None:
            os.ftruncate(fh, length)
        else:
            os.truncate(self._path(path), length)

    # Open files
    def open(self, path, flags):
        return os.open(self._path(path), flags)

    def create(self, path, mode, fi=None):
        return os.open(self._path(path), os.O_RDWR | os.O_CREAT, mode)

    def read(self, path, length, offset, fh):
        return os.pread(fh, length, offset)

    def write(self, path, data, offset, fh):
        self._failing()
        return os.pwrite(fh, data, offset)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)

    def fsync(self, path, datasync, fh):
        self._failing()
        os.fsync(fh)

    def fsyncdir(self, path, datasync, fh):
        self._failing()


if __name__ == "__main__":
    backing, mount, switch = sys.argv[1:4]
    FUSE(FaultFs(backing, switch), mount, foreground=True, nothreads=False)
