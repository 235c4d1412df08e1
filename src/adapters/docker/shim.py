# lanes sandbox shim: PID 1's child in an attached sandbox. Requests arrive as JSON lines on
# stdin, answers leave as JSON lines on stdout. One hijacked attach stream thus carries every
# command (no Docker exec round trips), time limits are enforced here by killing the command's
# process group, and when the lanes process holding stdin goes away, stdin ends and so does
# the sandbox (the dead-man's switch).
import base64, io, json, os, signal, subprocess, sys, tarfile, threading, time

# The truncation marker's format: channel.ts puts core/sandbox.ts's here when it loads this file.
MARKER = "\n[... lanes: %d bytes truncated ...]\n"

lock = threading.Lock()
procs = {}      # request id -> Popen, while the command runs
kept = set()    # process groups started as background processes on request

def send(obj):
    data = (json.dumps(obj) + "\n").encode()
    with lock:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

class Capture:
    # A pipe read to its end, keeping the first and last limit/2 bytes: no file, so a full /tmp
    # cannot silence a command, and memory stays bounded however much it prints.
    def __init__(self, fd, limit):
        self.fd, self.half, self.head, self.tail, self.size = fd, limit // 2, b"", b"", 0
        self.thread = threading.Thread(target=self.pump, daemon=True)
        self.thread.start()

    def pump(self):
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.size += len(chunk)
            room = self.half - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self.tail = (self.tail + chunk)[-self.half:]

    def text(self):
        cut = self.size - len(self.head) - len(self.tail)
        body = self.head + (MARKER.encode() % cut if cut > 0 else b"") + self.tail
        return body.decode("utf-8", "replace"), max(cut, 0)

def killgroup(pgid):
    # A fork bomb forks while it is killed: repeat until the group is empty.
    for _ in range(200):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            return
        time.sleep(0.005)

def stop(p):
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(2)
    except (OSError, subprocess.TimeoutExpired):
        pass
    killgroup(p.pid)

def sweep():
    # Processes a command left behind in a new session of their own end up children of PID 1;
    # all of them go, but for the shim's own parent and groups still running or kept on request.
    live = {p.pid for p in procs.values()} | kept
    mine = {os.getpid(), os.getppid(), 1}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in mine:
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid, pgid = int(fields[1]), int(fields[2])
        if ppid == 1 and pgid not in live:
            killgroup(pgid)
            try:
                os.kill(int(name), signal.SIGKILL)
            except OSError:
                pass

def answer(req, code, so, se, cut, timed_out, t0, **extra):
    send(dict({"id": req["id"], "code": code, "stdout": so, "stderr": se, "cut": cut, "timedOut": timed_out,
               "ms": int((time.monotonic() - t0) * 1000)}, **extra))

def background(req, env, t0):
    # Asked for explicitly: the process keeps running after the call, its output goes to a log.
    log = "/tmp/lanes-bg-%d.log" % req["id"]
    try:
        with open(log, "wb") as f:
            p = subprocess.Popen(["bash", "-c", req["cmd"]], cwd=req.get("cwd") or "/workspace", env=env,
                                 stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as e:
        return answer(req, 127, "", str(e), 0, False, t0)
    kept.add(p.pid)
    answer(req, 0, "started in the background: pid %d, output in %s\n" % (p.pid, log), "", 0, False, t0)

def untar(req):
    # The workspace copied in over this channel (a tar lanes built from the repository): far
    # quicker than Docker's archive upload, which starts a helper process per copy.
    t0 = time.monotonic()
    try:
        with tarfile.open(fileobj=io.BytesIO(base64.b64decode(req["data"]))) as t:
            try:
                t.extractall(req["path"], filter="tar")  # no absolute or escaping names
            except TypeError:  # a Python without extraction filters
                t.extractall(req["path"])
    except Exception as e:
        return answer(req, 1, "", "%s: %s" % (type(e).__name__, e), 0, False, t0)
    answer(req, 0, "", "", 0, False, t0)

def run(req):
    t0 = time.monotonic()
    env = dict(os.environ)
    env.update(req.get("env") or {})
    if req.get("background"):
        return background(req, env, t0)
    limit = req.get("limit") or 100000
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        p = subprocess.Popen(["bash", "-c", req["cmd"]], cwd=req.get("cwd") or "/workspace", env=env,
                             stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w, start_new_session=True)
    except OSError as e:
        for fd in (out_r, out_w, err_r, err_w):
            os.close(fd)
        return answer(req, 127, "", str(e), 0, False, t0)
    os.close(out_w)
    os.close(err_w)
    out, err = Capture(out_r, limit), Capture(err_r, limit)
    procs[req["id"]] = p
    timed_out = False
    try:
        code = p.wait(timeout=req["timeout"])
    except subprocess.TimeoutExpired:
        timed_out = True
        stop(p)
        code = 124
    # The command is over: whatever it started goes with it (its group, and anything that left it).
    killgroup(p.pid)
    procs.pop(req["id"], None)
    sweep()
    for c in (out, err):
        c.thread.join(2)
    held = any(c.thread.is_alive() for c in (out, err))
    if code < 0:
        code = 128 - code
    so, c1 = out.text()
    se, c2 = err.text()
    if held:
        se += "\n[lanes: output may be incomplete: a leftover process held the command's output open]\n"
    for fd in (out_r, err_r):
        try:
            os.close(fd)
        except OSError:
            pass
    answer(req, code, so, se, c1 + c2, timed_out, t0)

def main():
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            break
        try:
            req = json.loads(line)
        except ValueError:
            continue
        if req.get("op") == "hello":
            send({"id": req.get("id"), "ready": "lanes-shim/1"})
        elif req.get("op") == "untar":
            threading.Thread(target=untar, args=(req,), daemon=True).start()
        elif req.get("op") == "kill":
            p = procs.get(req.get("target"))
            if p:
                threading.Thread(target=stop, args=(p,), daemon=True).start()
        else:
            threading.Thread(target=run, args=(req,), daemon=True).start()
    for p in list(procs.values()):
        stop(p)
    for g in kept:
        killgroup(g)

main()
