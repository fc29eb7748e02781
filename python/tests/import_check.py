"""`import shmpool` works under this interpreter (it needs nothing but the standard
library and libshmpool.so.1): the package loads the library, and an attach to a daemon
that is not there raises shmpool.Unavailable with the C library's message. Exit 0 or 1."""

import os
import sys
import tempfile

os.environ["SHMPOOL_ATTACH_TIMEOUT_MS"] = "0"
import shmpool  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    try:
        shmpool.attach("default", "unix:" + os.path.join(tmp, "nobody.sock"))
    except shmpool.Unavailable as e:
        if e.code != -6 or "nobody.sock" not in e.message:
            sys.exit(f"import_check: unexpected error {e.code}: {e.message}")
        print(f"import_check: {sys.executable} {sys.version.split()[0]}: {e.message}")
        sys.exit(0)
sys.exit("import_check: attach to a missing daemon did not raise")
