"""Temporary stand-in: vam with every S3 request timed (not committed)."""
import os, sys, time, runpy, threading
T0 = time.time()
import botocore.session as bs
_log = open(f"/tmp/exp/trace-{os.getpid()}.log", "w", buffering=1)
_orig = bs.Session.create_client
_loc = threading.local()
def _w(s): _log.write(f"{time.time()-T0:8.3f} {threading.get_ident()%10000:5d} {s}\n")
def create_client(self, *a, **k):
    c = _orig(self, *a, **k)
    ev = c.meta.events
    def bs_(model=None, request=None, **kw):
        _w(f"send {model.name if model else '?'} {getattr(request,'url','')[-60:]}")
    def ac(model=None, http_response=None, **kw):
        _w(f"done {model.name if model else '?'} {getattr(http_response,'status_code','')}")
    ev.register("before-send", lambda request=None, **kw: _w(f"send {request.url[-70:]} {request.method}"))
    ev.register("after-call", ac)
    ev.register("after-call-error", lambda **kw: _w("call-error"))
    return c
bs.Session.create_client = create_client
_w(f"start argv={sys.argv[1:3]}")
import atexit; atexit.register(lambda: _w("exit"))
sys.argv[0] = "vam"
runpy.run_module("vam", run_name="__main__")
