"""EXE serve end to end, with the standard library only: compiles a small SimpleCNN (batch 8),
starts `EXE serve --port 0`, then checks
  api        status codes, JSON shapes and exact error messages; probabilities equal to
             `EXE predict --json` on the same files within 1e-6; multipart with several images
  load       8 concurrent keep-alive clients x 200 requests: no error, and batching happened
             (/v1/health's mean batch > 1)
  malformed  200 malformed requests (bad headers, truncated bodies, wrong types, huge declared
             lengths, raw garbage): the server stays up and its VmRSS stays flat
  sigterm    SIGTERM while requests are in flight: they are answered, the exit status is 0
  timeouts   --timeout-ms: 503 when no result came in time, idle connections closed; SIGINT;
             --max-pixels refuses larger images
  explain    POST /v1/explain: the map equals `EXE explain`'s, the overlay is a PNG of the image's
             size; one image only; 501 with why from an executable without an explain model
usage: check_serve.py SINTER MODEL.nn SHARED_DIR WORKDIR"""
import errno
import http.client
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

sinter, model, shared, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
exe = os.path.join(work, "cnn")
subprocess.run([sinter, "compile", model, "--set", "size=32", "--train-batch", "8", "--batch", "8", "-o", exe], check=True)
exe_plain = os.path.join(work, "cnn-no-train")  # no explain model
subprocess.run([sinter, "compile", model, "--set", "size=32", "--no-train", "--batch", "8", "-o", exe_plain], check=True)

data = os.path.join(shared, "data", "cxr-256")
images = sorted(os.path.join(data, c, f) for c in sorted(os.listdir(data)) for f in sorted(os.listdir(os.path.join(data, c))))[:24:3]
blobs = [open(p, "rb").read() for p in images]
MAX_BODY = 1 << 20
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def start(*extra, exe=exe):
    p = subprocess.Popen([exe, "serve", "--port", "0", "--max-body", str(MAX_BODY), *extra], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith("serving on http://127.0.0.1:"):
        p.kill()
        sys.exit("FAIL: serve printed %r, stderr %r" % (line, p.stderr.read()))
    return p, int(line.rsplit(":", 1)[1])


def request(port, method, path, body=None, headers=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    raw = r.read()
    if not conn:
        c.close()
    return r.status, dict(r.getheaders()), raw


def jrequest(*a, **k):
    status, headers, raw = request(*a, **k)
    return status, headers, json.loads(raw.decode("utf-8"))


def multipart(parts, boundary="sinterXbound"):
    body = b""
    for name, blob in parts:
        body += b"--" + boundary.encode() + b"\r\n"
        body += b'Content-Disposition: form-data; name="image"; filename="%s"\r\n' % name.encode()
        body += b"Content-Type: image/png\r\n\r\n" + blob + b"\r\n"
    body += b"--" + boundary.encode() + b"--\r\n"
    return body, {"Content-Type": "multipart/form-data; boundary=" + boundary}


def reference():
    """EXE predict --json with every class: {file: {label: probability}}."""
    out = subprocess.run([exe, "predict", "--json", "--top", "4", *images], check=True, capture_output=True, text=True)
    return {os.path.basename(e["file"]): {p["label"]: p["confidence"] for p in e["predictions"]} for e in json.loads(out.stdout)}


def same_probs(got, want, what):
    check(set(got) == set(want), "%s: labels %s, predict has %s" % (what, sorted(got), sorted(want)))
    for k in want:
        check(abs(got.get(k, -1) - want[k]) <= 1e-6, "%s: %s = %r, predict says %r" % (what, k, got.get(k), want[k]))
    check(abs(sum(got.values()) - 1) < 1e-5, "%s: probabilities sum to %r" % (what, sum(got.values())))


def test_api(port):
    st, h, m = jrequest(port, "GET", "/v1/model")
    check(st == 200 and h.get("Content-Type") == "application/json", "model: %d %r" % (st, h))
    check(m["labels"] == ["COVID", "Normal", "Viral Pneumonia", "Lung_Opacity"], "model labels %r" % m["labels"])
    check(m["input"]["shape"] == [1, 3, 32, 32] and m["input"]["layout"] == "NCHW", "model input %r" % m["input"])
    check(m["precision"] == "fp32" and m["batch"] == 8 and m["max_body"] == MAX_BODY, "model %r" % m)
    check(m["sinter_version"].count(".") == 2, "model version %r" % m["sinter_version"])
    st, _, hl = jrequest(port, "GET", "/v1/health")
    check(st == 200 and hl["status"] == "ok" and hl["batches"] == 0, "health %d %r" % (st, hl))
    st, h, page = request(port, "GET", "/")
    check(st == 200 and h["Content-Type"].startswith("text/html") and b"/v1/predict" in page and b"/v1/explain" in page
          and b"overlay_png_base64" in page and b"http" not in page.replace(b"http.", b""), "page: %d %r" % (st, page[:80]))

    ref = reference()
    for path, blob in zip(images, blobs):
        for ct in ("image/png", "application/octet-stream"):
            st, _, r = jrequest(port, "POST", "/v1/predict", blob, {"Content-Type": ct})
            check(st == 200 and len(r["predictions"]) == 1, "predict %s (%s): %d %r" % (path, ct, st, r))
            p = r["predictions"][0]
            check(p["file"] == "body" and p["valid"] is True, "predict entry %r" % p)
            same_probs(p["probabilities"], ref[os.path.basename(path)], "predict %s" % path)
            check(p["class"] == max(p["probabilities"], key=p["probabilities"].get), "class of %r" % p)
            t = p["timings_ms"]
            check(0 <= t["queue"] <= t["total"] and 0 <= t["inference"] <= t["total"] and p["batch"] >= 1, "timings %r" % p)

    body, hdr = multipart([(os.path.basename(p), b) for p, b in zip(images[:5], blobs[:5])])
    st, _, r = jrequest(port, "POST", "/v1/predict", body, hdr)
    check(st == 200 and [p["file"] for p in r["predictions"]] == [os.path.basename(p) for p in images[:5]],
          "multipart: %d %r" % (st, r))
    for p in r.get("predictions", []):
        same_probs(p["probabilities"], ref[p["file"]], "multipart %s" % p["file"])
    # Five samples queued at once run as one batch.
    check(all(p["batch"] == 5 for p in r.get("predictions", [])), "multipart batches %r" % [p.get("batch") for p in r.get("predictions", [])])

    errors = [
        (("GET", "/nope"), 404, "no such resource: GET /nope"),
        (("DELETE", "/v1/predict"), 405, "DELETE is not allowed on /v1/predict (allowed: POST)"),
        (("POST", "/v1/health", b""), 405, "POST is not allowed on /v1/health (allowed: GET)"),
        (("POST", "/v1/predict", b"hello", {"Content-Type": "text/plain"}), 415,
         "/v1/predict takes a PNG, JPEG or DICOM image (image/png, image/jpeg, application/dicom, "
         "application/octet-stream) or multipart/form-data, not 'text/plain'"),
        (("POST", "/v1/predict", b"hello", {"Content-Type": "image/png"}), 400,
         'body: not a PNG, JPEG or DICOM image: it begins with the text "hello"'),
        (("POST", "/v1/predict", b"", {"Content-Type": "image/png"}), 400, "body: empty, not an image"),
        (("POST", "/v1/predict", blobs[0][:4], {"Content-Type": "image/png"}), 400,
         "body: truncated PNG: the file is only 4 bytes long"),
        (("POST", "/v1/predict", b"--b\r\n\r\n", {"Content-Type": "multipart/form-data"}), 400,
         "multipart body without a boundary in its Content-Type"),
        (("POST", "/v1/predict", multipart([("a.png", blobs[0])])[0], {"Content-Type": "multipart/form-data; boundary=other"}), 400,
         "multipart body without its boundary 'other'"),
        (("POST", "/v1/predict", multipart([("a.png", blobs[0])])[0][:-30], multipart([])[1]), 400,
         "multipart part 1: cut short (no boundary after it)"),
        (("POST", "/v1/predict", multipart([("ok.png", blobs[0]), ("bad.png", blobs[1][:200])])[0], multipart([])[1]), 400,
         None),
        (("POST", "/v1/predict") + multipart([("p%d.png" % i, b"x") for i in range(65)]), 400,
         "more than 64 parts in one request"),
    ]
    for args, status, msg in errors:
        st, h, r = jrequest(port, *args)
        check(st == status, "%s %s: status %d, want %d (%r)" % (args[0], args[1], st, status, r))
        check(set(r) == {"error"} and h.get("Content-Type") == "application/json", "error body %r" % r)
        if msg is not None:
            check(r.get("error") == msg, "%s %s: error %r, want %r" % (args[0], args[1], r.get("error"), msg))
        else:
            check(r.get("error", "").startswith("bad.png: "), "truncated part: %r" % r)
    st, h, _ = request(port, "DELETE", "/v1/predict")
    check(h.get("Allow") == "POST", "405 without Allow: %r" % h)
    # A declared length over the cap is refused before the body is sent.
    st, body = raw_response(port, b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                                  b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1))
    want = "the body is %d bytes; at most %d are accepted (--max-body)" % (MAX_BODY + 1, MAX_BODY)
    check(st == 413 and json.loads(body) == {"error": want}, "413: %d %r" % (st, body))


def raw_response(port, data):
    """Sends a request's bytes and reads the whole answer (the server closes): status, body."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(data)
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def test_load(port, clients=8, per_client=200):
    errors = []
    h0 = jrequest(port, "GET", "/v1/health")[2]

    def client(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for k in range(per_client):
                st, _, raw = request(port, "POST", "/v1/predict", blobs[(i + k) % len(blobs)], {"Content-Type": "image/png"}, conn)
                r = json.loads(raw)
                if st != 200 or not r["predictions"][0]["valid"]:
                    errors.append((st, r))
        except Exception as e:  # noqa: BLE001 - every failure is reported
            errors.append(repr(e))
        finally:
            conn.close()
    t0 = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.time() - t0
    h1 = jrequest(port, "GET", "/v1/health")[2]
    batches, samples = h1["batches"] - h0["batches"], h1["samples"] - h0["samples"]
    print("load: %d requests in %.2f s, %d batches, mean batch %.2f, max %d" % (clients * per_client, dt, batches, samples / max(batches, 1), h1["max_batch"]), flush=True)
    check(not errors, "load: %d errors, first %r" % (len(errors), errors[:1]))
    check(samples == clients * per_client, "load: %d samples run for %d requests" % (samples, clients * per_client))
    check(samples / max(batches, 1) > 1.0 and h1["max_batch"] <= 8, "load: no batching (%d samples in %d batches)" % (samples, batches))


def raw(port, data, half_close=False, close_early=False):
    """Sends bytes on a fresh socket (then half-closes it when asked, so that the server sees the
    end of an incomplete request); returns the answer's status (0 when the server just closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(data)
        if close_early:
            return 0
        if half_close:
            s.shutdown(socket.SHUT_WR)
        got = b""
        while b"\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        return int(got.split(b" ")[1]) if got.startswith(b"HTTP/1.") else 0
    except OSError as e:
        # The server may close a connection on garbage before the client half-closes or reads:
        # that is an answer (0), not a failure. A timeout still fails.
        if e.errno in (errno.ENOTCONN, errno.ECONNRESET, errno.EPIPE):
            return 0
        raise
    finally:
        s.close()


def rss(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_malformed(proc, port):
    rng = random.Random(12)
    png = blobs[0]
    cases = [
        (b"garbage\r\n\r\n", None),
        (b"GET /v1/health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", 400),
        (b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 100000 + b"\r\n\r\n", 431),
        (b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000000000000\r\n\r\n", 413),
        (b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 99999999999999999999999\r\n\r\n", None),
        (b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: abc\r\n\r\n", 400),
        (b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n" + png[:300], "close"),
        (b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", 415),
        (b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n" % (len(png) // 2) + png[:len(png) // 2], 400),
        (b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(b"%x\r\n" % 65536 + b"z" * 65536 + b"\r\n" for _ in range(17)) + b"0\r\n\r\n", None),
        (b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=\"" + b"b" * 80 + b"\"\r\nContent-Length: 4\r\n\r\nxxxx", 400),
        (b"GET /" + b"%" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", None),
        (b"", "close"),
    ]
    def one(i):
        if i % 5 == 4:
            return raw(port, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000))), half_close=True)
        data, want = cases[i % len(cases)]
        got = raw(port, data, half_close=want is None, close_early=want == "close")
        if isinstance(want, int):
            check(got == want, "malformed case %d: status %d, want %d" % (i % len(cases), got, want))
        return got
    for i in range(200):  # warm up: thread stacks and malloc arenas reach their steady size
        one(i)
    before = rss(proc.pid)
    for i in range(200):
        one(i)
    st, _, h = jrequest(port, "GET", "/v1/health")
    after = rss(proc.pid)
    print("malformed: VmRSS %d kB -> %d kB" % (before, after), flush=True)
    check(st == 200 and proc.poll() is None, "malformed: the server is down")
    check(after - before < 4096, "malformed: VmRSS grew from %d kB to %d kB" % (before, after))
    st, _, r = jrequest(port, "POST", "/v1/predict", blobs[0], {"Content-Type": "image/png"})
    check(st == 200 and r["predictions"][0]["valid"], "predict after malformed: %d" % st)


def test_sigterm(proc, port):
    """Requests whose headers arrived before SIGTERM are answered; then exit 0."""
    half = len(blobs[0]) // 2
    socks = []
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        s.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n" % len(blobs[0]) + blobs[0][:half])
        socks.append(s)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    check(proc.poll() is None, "sigterm: exited with requests in flight")
    for s in socks:
        s.sendall(blobs[0][half:])
        got = b""
        while b"\r\n\r\n" not in got or not got.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        s.close()
        check(got.startswith(b"HTTP/1.1 200"), "sigterm: in-flight request got %r" % got[:200])
        body = json.loads(got.split(b"\r\n\r\n", 1)[1])
        check(body["predictions"][0]["valid"], "sigterm: answer %r" % body)
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = "timeout"
    check(rc == 0, "sigterm: exit status %r, stderr %r" % (rc, proc.stderr.read()))


def gray_png(w, h):
    """An 8-bit gray PNG of w x h pixels: IHDR, one IDAT, IEND."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    raw = b"".join(b"\0" + bytes((x * 7 + y) & 255 for x in range(w)) for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_timeouts():
    """A result not started within --timeout-ms is a 503; an idle connection is closed after it
    (rounded up to whole seconds); SIGINT stops the server like SIGTERM."""
    proc, port = start("--timeout-ms", "1", "--max-pixels", "65536")  # the 256x256 images pass
    try:
        st, _, r = jrequest(port, "POST", "/v1/predict", gray_png(300, 300), {"Content-Type": "image/png"})
        want = "body: image is 300x300 = 90000 pixels, more than the cap of 65536 (--max-pixels N to change it)"
        check(st == 400 and r == {"error": want}, "--max-pixels: %d %r" % (st, r))
        # Decoding 16 images takes more than 1 ms: the deadline has passed when they would queue.
        st, _, r = jrequest(port, "POST", "/v1/predict", *multipart([("a.png", b) for b in blobs * 2]))
        check(st == 503 and r == {"error": "the model was busy: no result within 1 ms (--timeout-ms)"}, "timeout: %d %r" % (st, r))
        st, _, h = jrequest(port, "GET", "/v1/health")
        check(st == 200 and h["samples"] == 0 and h["queued"] == 0, "timeout: withdrawn samples ran: %r" % h)
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")  # headers never end
        t0 = time.time()
        closed = s.recv(4096) == b""
        s.close()
        check(closed and 0.5 < time.time() - t0 < 10, "idle connection: closed %r after %.2f s" % (closed, time.time() - t0))
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=10)
        check(rc == 0, "SIGINT: exit status %r" % rc)
    finally:
        if proc.poll() is None:
            proc.kill()


def png_size(data):
    check(data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "overlay is not a PNG: %r" % data[:16])
    return struct.unpack(">II", data[16:24])


def test_explain(port):
    import base64
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([exe, "explain", images[0], "-o", tmp], check=True, capture_output=True)
        stem = os.path.splitext(os.path.basename(images[0]))[0]
        want = json.load(open(os.path.join(tmp, stem + ".gradcam.json")))
    st, _, r = jrequest(port, "POST", "/v1/explain", blobs[0], {"Content-Type": "image/png"})
    check(st == 200, "explain: %d %r" % (st, r if st != 200 else ""))
    if st != 200:
        return
    check(r["class"] == want["class"] and r["layer"] == want["layer"] == "conv2d_2", "explain class/layer %r" % r["layer"])
    gm, wm = r["map"], want["map"]
    check((gm["height"], gm["width"]) == (wm["height"], wm["width"]), "explain map size %r" % ((gm["height"], gm["width"]),))
    worst = max(abs(a - b) for a, b in zip(gm["values"], wm["values"]))
    check(worst <= 1e-5, "explain map differs from EXE explain's by %g" % worst)
    same = all(abs(r["probabilities"][k] - want["probabilities"][k]) <= 1e-6 for k in want["probabilities"])
    check(same, "explain probabilities %r vs %r" % (r["probabilities"], want["probabilities"]))
    check(png_size(base64.b64decode(r["overlay_png_base64"])) == (256, 256), "overlay is not 256x256")
    st, _, r = jrequest(port, "POST", "/v1/explain", *multipart([("a.png", blobs[0]), ("b.png", blobs[1])]))
    check(st == 400 and r == {"error": "/v1/explain takes one image, got more"}, "explain two parts: %d %r" % (st, r))
    st, _, r = jrequest(port, "POST", "/v1/explain", b"not an image", {"Content-Type": "image/png"})
    check(st == 400 and "error" in r, "explain garbage: %d %r" % (st, r))
    proc, plain = start(exe=exe_plain)
    try:
        st, _, r = jrequest(plain, "POST", "/v1/explain", blobs[0], {"Content-Type": "image/png"})
        want_err = ("cannot explain: this executable has no explain model (a DSL model compiled with --no-train, or an "
                    "ONNX graph compiled without --explain)")
        check(st == 501 and r == {"error": want_err}, "explain without a model: %d %r" % (st, r))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


test_timeouts()
proc, port = start("--timeout-ms", "10000")
try:
    t0 = time.time()
    test_api(port)
    test_explain(port)
    test_load(port)
    test_malformed(proc, port)
    test_sigterm(proc, port)
    print("serve checks took %.1f s" % (time.time() - t0))
finally:
    if proc.poll() is None:
        proc.kill()
print("FAIL: %d checks" % len(failures) if failures else "serve: all checks passed")
sys.exit(1 if failures else 0)
