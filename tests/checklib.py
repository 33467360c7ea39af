"""What the Python checks under tests/ share: named checks collected and reported at the end,
commands that must exit as expected, fresh work folders. A script puts tests/ on sys.path:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))"""
import os
import shutil
import subprocess
import sys

FAILS = []


def check(ok, what, quiet=False):
    """Records a named property; prints PASS/FAIL unless quiet (a failure is always kept)."""
    if not quiet:
        print(("PASS " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILS.append(what)
    return ok


def run(cmd, ok_codes=(0,), timeout=None, **kw):
    """Runs cmd (text output captured); an exit code outside ok_codes (None: any code, for the
    caller to check) ends the script with both outputs' tails. No timeout unless given: ctest's
    TIMEOUT bounds every test."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if ok_codes is not None and p.returncode not in ok_codes:
        sys.exit("command failed (exit %d, want %s): %s\nstdout:\n%s\nstderr:\n%s"
                 % (p.returncode, "/".join(map(str, ok_codes)), " ".join(map(str, cmd)), p.stdout[-4000:],
                    p.stderr[-4000:]))
    return p


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def finish(passed_line=None):
    """Exits 1 listing the failed checks, else 0 (printing passed_line)."""
    if FAILS:
        sys.exit("%d check(s) failed:\n  %s" % (len(FAILS), "\n  ".join(FAILS)))
    if passed_line:
        print(passed_line)
