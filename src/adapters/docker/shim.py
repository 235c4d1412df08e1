# lanes sandbox shim: PID 1's child in an attached sandbox. Requests arrive as JSON lines on
# stdin, answers leave as JSON lines on stdout. One hijacked attach stream thus carries every
# command (no Docker exec round trips), time limits are enforced here by killing the command's
# process group, and when the lanes process holding stdin goes away, stdin ends and so does
# the sandbox (the dead-man's switch).
import base64, hashlib, io, json, os, signal, struct, subprocess, sys, tarfile, threading, time, zlib

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
    # quicker than Docker's archive upload, which starts a helper process per copy. Asked to,
    # the base commit follows, answered under its own id.
    t0 = time.monotonic()
    try:
        with tarfile.open(fileobj=io.BytesIO(base64.b64decode(req["data"]))) as t:
            members = t.getmembers()
            try:
                t.extractall(req["path"], filter="tar")  # no absolute or escaping names
            except TypeError:  # a Python without extraction filters
                t.extractall(req["path"])
    except Exception as e:
        if req.get("commit") is not None:
            answer({"id": req["commit"]}, 1, "", "nothing was copied", 0, False, t0)
        return answer(req, 1, "", "%s: %s" % (type(e).__name__, e), 0, False, t0)
    answer(req, 0, "", "", 0, False, t0)
    if req.get("commit") is not None:
        t0 = time.monotonic()
        try:
            head = commit_base(req["path"], members)
        except Exception as e:  # lanes makes it with git instead
            return answer({"id": req["commit"]}, 1, "", "%s: %s" % (type(e).__name__, e), 0, False, t0)
        answer({"id": req["commit"]}, 0, head + "\n", "", 0, False, t0)

def commit_base(root, members):
    # What `git init; git add -A -f; git commit` makes of the copied files (loose objects, the
    # index, HEAD on master), written here without starting git three times. Only where nothing
    # could make git's result differ: no .gitattributes, no nested .git, and no git settings but
    # those that cannot change it (an image's own could: autocrlf, filters, the branch name...).
    home = os.path.expanduser("~")
    for f in ("/etc/gitconfig", home + "/.gitconfig", os.environ.get("XDG_CONFIG_HOME", home + "/.config") + "/git/config"):
        for key in config_keys(f):
            if key not in ("user.name", "user.email", "safe.directory"):
                raise ValueError("git setting %s in %s" % (key, f))
    names = []
    for m in members:
        parts = m.name.split("/")
        if ".git" in parts or parts[-1] == ".gitattributes":
            raise ValueError("the workspace has %s" % m.name)
        if not m.isdir():
            names.append(m.name)
    git = os.path.join(root, ".git")
    for d in ("objects/info", "objects/pack", "refs/heads", "refs/tags"):
        os.makedirs(os.path.join(git, d))

    def store(kind, body):
        raw = b"%s %d\0" % (kind, len(body)) + body
        sha = hashlib.sha1(raw).digest()
        path = os.path.join(git, "objects", sha.hex()[:2], sha.hex()[2:])
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(zlib.compress(raw, 1))
        return sha

    tree, index = {}, []
    for name in sorted(set(names), key=os.fsencode):
        path = os.path.join(root, name)
        s = os.lstat(path)
        if st_is(s, 0o120000):
            mode, data = 0o120000, os.readlink(os.fsencode(path))
        elif st_is(s, 0o100000):
            mode = 0o100755 if s.st_mode & 0o100 else 0o100644
            with open(path, "rb") as f:
                data = f.read()
        else:
            raise ValueError("%s is neither a file nor a link" % name)
        sha = store(b"blob", data)
        node = tree
        for d in name.split("/")[:-1]:
            node = node.setdefault(d, {})
        node[name.split("/")[-1]] = (mode, sha)
        index.append((os.fsencode(name), s, mode, sha))

    def write_tree(node):
        entries = []
        for name, v in node.items():
            b = os.fsencode(name)
            if isinstance(v, dict):
                entries.append((b + b"/", b"40000 " + b + b"\0" + write_tree(v)))
            else:
                entries.append((b, b"%o " % v[0] + b + b"\0" + v[1]))
        return store(b"tree", b"".join(e for _, e in sorted(entries)))

    now = int(time.time())
    who = b"lanes <lanes@localhost> %d +0000" % now
    head = store(b"commit", b"tree %s\nauthor %s\ncommitter %s\n\nlanes: base\n" % (write_tree(tree).hex().encode(), who, who))
    entries = b""
    for name, s, mode, sha in index:  # index version 2, sorted by name
        e = struct.pack(">10I", int(s.st_ctime), s.st_ctime_ns % 10**9, int(s.st_mtime), s.st_mtime_ns % 10**9,
                        s.st_dev & 0xFFFFFFFF, s.st_ino & 0xFFFFFFFF, mode, s.st_uid, s.st_gid, s.st_size & 0xFFFFFFFF)
        e += sha + struct.pack(">H", min(len(name), 0xFFF)) + name
        entries += e + b"\0" * (8 - len(e) % 8)
    data = b"DIRC" + struct.pack(">II", 2, len(index)) + entries
    with open(os.path.join(git, "index"), "wb") as f:
        f.write(data + hashlib.sha1(data).digest())
    with open(os.path.join(git, "config"), "w") as f:
        f.write("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n")
    with open(os.path.join(git, "refs/heads/master"), "w") as f:
        f.write(head.hex() + "\n")
    with open(os.path.join(git, "HEAD"), "w") as f:
        f.write("ref: refs/heads/master\n")
    return head.hex()

def config_keys(path):
    # The setting names a git configuration file holds, as section.key (a subsection counts as
    # part of the section, so it never matches the few names allowed).
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    keys, section = [], ""
    for line in lines:
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line[1:].split("]")[0].strip().lower()
            line = line.split("]", 1)[1].strip() if "]" in line else ""
            if not line:
                continue
        keys.append(section + "." + line.split("=")[0].strip().lower())
    return keys

def st_is(s, kind):
    return (s.st_mode & 0o170000) == kind

def run(req):
    t0 = time.monotonic()
    env = dict(os.environ)
    env.update(req.get("env") or {})
    if req.get("background"):
        return background(req, env, t0)
    limit = req.get("limit") or 100000
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    # The readers start before the command: a fork bomb takes every free task at once, and a
    # reader that could not start then would leave the command unanswered.
    try:
        out, err = Capture(out_r, limit), Capture(err_r, limit)
        p = subprocess.Popen(["bash", "-c", req["cmd"]], cwd=req.get("cwd") or "/workspace", env=env,
                             stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w, start_new_session=True)
    except (OSError, RuntimeError) as e:
        for fd in (out_w, err_w):  # a reader that started sees the end of its pipe and stops
            os.close(fd)
        return answer(req, 127, "", "lanes: cannot start the command: %s" % e, 0, False, t0)
    os.close(out_w)
    os.close(err_w)
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

def start(target, arg, req):
    # No thread while the sandbox's process limit is reached (a fork bomb, until it is killed):
    # the request is answered so, never left waiting, and the shim goes on.
    try:
        threading.Thread(target=target, args=(arg,), daemon=True).start()
    except RuntimeError as e:
        if req is not None:
            answer(req, 127, "", "lanes: cannot start the command: %s" % e, 0, False, time.monotonic())

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
        elif req.get("op") == "kill":
            p = procs.get(req.get("target"))
            if p:
                start(stop, p, None)
        else:
            start(untar if req.get("op") == "untar" else run, req, req)
    for p in list(procs.values()):
        stop(p)
    for g in kept:
        killgroup(g)

main()
