"""A minimal NFSv4.0 client (RFC 7530) over TCP, Python standard library only.

It speaks the operations on file handles that the tests and bench/nfs.sh
need and that Debian 12's libnfs-utils cannot give them: keeping a raw file
handle across a server's cache drop or a deletion (PUTFH of an old handle),
WRITE of more than 4 KB (libnfs 4.0.0 encodes an NFSv4 WRITE into a 4 KiB
buffer and fails larger ones, fixed in libnfs 5.0.0), COMMIT, RENAME and
REMOVE. Files are read and written with the anonymous stateid (all zeros),
which NFSv4.0 allows for I/O without OPEN; creating files is OPEN's job, left
to libnfs's nfs-cp (or to `create`, below, for the benchmark).

Credentials are AUTH_SYS, root's (uid 0, gid 0) unless told otherwise. Errors raise Nfs4Error with
the NFS4ERR_* name of the first failing operation.
"""
import os
import socket
import struct

NFS_PROGRAM, NFS_V4 = 100003, 4
AUTH_SYS = 1

OP = {"ACCESS": 3, "CLOSE": 4, "COMMIT": 5, "GETATTR": 9, "GETFH": 10, "LOOKUP": 15,
      "OPEN": 18, "OPEN_CONFIRM": 20, "PUTFH": 22, "PUTROOTFH": 24, "READ": 25,
      "REMOVE": 28, "RENAME": 29, "RESTOREFH": 31, "SAVEFH": 32, "SETCLIENTID": 35,
      "SETCLIENTID_CONFIRM": 36, "WRITE": 38}

ERRORS = {0: "NFS4_OK", 1: "NFS4ERR_PERM", 2: "NFS4ERR_NOENT", 5: "NFS4ERR_IO",
          13: "NFS4ERR_ACCESS", 17: "NFS4ERR_EXIST", 18: "NFS4ERR_XDEV", 20: "NFS4ERR_NOTDIR",
          21: "NFS4ERR_ISDIR", 22: "NFS4ERR_INVAL", 27: "NFS4ERR_FBIG", 28: "NFS4ERR_NOSPC",
          30: "NFS4ERR_ROFS", 63: "NFS4ERR_NAMETOOLONG", 66: "NFS4ERR_NOTEMPTY",
          70: "NFS4ERR_STALE", 10001: "NFS4ERR_BADHANDLE", 10008: "NFS4ERR_DELAY",
          10013: "NFS4ERR_GRACE", 10014: "NFS4ERR_FHEXPIRED", 10022: "NFS4ERR_STALE_CLIENTID",
          10025: "NFS4ERR_BAD_STATEID", 10026: "NFS4ERR_BAD_SEQID", 10036: "NFS4ERR_BADXDR"}

# GETATTR: the attributes asked for, by bit number, and how each is encoded
FATTR_TYPE, FATTR_SIZE, FATTR_FILEID = 1, 4, 20
FATTR_MODE, FATTR_NUMLINKS, FATTR_OWNER, FATTR_OWNER_GROUP = 33, 35, 36, 37
_ATTR_CODING = {FATTR_TYPE: "I", FATTR_SIZE: "Q", FATTR_FILEID: "Q", FATTR_MODE: "I",
                FATTR_NUMLINKS: "I", FATTR_OWNER: "s", FATTR_OWNER_GROUP: "s"}
_ATTR_NAMES = {FATTR_TYPE: "type", FATTR_SIZE: "size", FATTR_FILEID: "fileid",
               FATTR_MODE: "mode", FATTR_NUMLINKS: "nlink", FATTR_OWNER: "owner",
               FATTR_OWNER_GROUP: "group"}

UNSTABLE, DATA_SYNC, FILE_SYNC = 0, 1, 2
ANONYMOUS_STATEID = bytes(16)


class Nfs4Error(Exception):
    def __init__(self, op, status):
        self.op, self.status = op, status
        self.name = ERRORS.get(status, f"NFS4ERR_{status}")
        super().__init__(f"{op}: {self.name}")


# ---- XDR ------------------------------------------------------------------
def _u32(v):
    return struct.pack(">I", v)


def _u64(v):
    return struct.pack(">Q", v)


def _opaque(b):
    return _u32(len(b)) + b + bytes(-len(b) % 4)


def _string(s):
    return _opaque(s.encode())


def _bitmap(bits):
    words = [0] * (max(bits) // 32 + 1)
    for b in bits:
        words[b // 32] |= 1 << (b % 32)
    return _u32(len(words)) + b"".join(_u32(w) for w in words)


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def u32(self):
        v, = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return v

    def u64(self):
        v, = struct.unpack_from(">Q", self.data, self.pos)
        self.pos += 8
        return v

    def fixed(self, n):
        b = self.data[self.pos:self.pos + n]
        self.pos += n + (-n % 4)
        return b

    def opaque(self):
        return self.fixed(self.u32())

    def bitmap(self):
        words = [self.u32() for _ in range(self.u32())]
        return [i * 32 + b for i, w in enumerate(words) for b in range(32) if w >> b & 1]


def _decode_fattr(r):
    bits = r.bitmap()
    vals = _Reader(r.opaque())
    out = {}
    for bit in bits:
        kind = _ATTR_CODING.get(bit)
        if kind is None:
            raise ValueError(f"attribute {bit} was not asked for")
        out[_ATTR_NAMES[bit]] = (vals.u32() if kind == "I" else vals.u64() if kind == "Q"
                                 else vals.opaque().decode())
    return out


# ---- operations: (name, encoded arguments, result decoder) -----------------
def putrootfh():
    return "PUTROOTFH", b"", None


def putfh(fh):
    return "PUTFH", _opaque(fh), None


def lookup(name):
    return "LOOKUP", _string(name), None


def getfh():
    return "GETFH", b"", lambda r: r.opaque()


def savefh():
    return "SAVEFH", b"", None


def getattr_(bits=(FATTR_TYPE, FATTR_SIZE, FATTR_FILEID, FATTR_MODE, FATTR_NUMLINKS,
                   FATTR_OWNER, FATTR_OWNER_GROUP)):
    return "GETATTR", _bitmap(bits), _decode_fattr


def read(offset, count):
    def res(r):
        eof = r.u32()
        return r.opaque(), bool(eof)
    return "READ", ANONYMOUS_STATEID + _u64(offset) + _u32(count), res


def write(offset, data, stable=FILE_SYNC):
    def res(r):
        count, committed = r.u32(), r.u32()
        return count, committed, r.fixed(8)
    return "WRITE", ANONYMOUS_STATEID + _u64(offset) + _u32(stable) + _opaque(data), res


def commit(offset=0, count=0):
    return "COMMIT", _u64(offset) + _u32(count), lambda r: r.fixed(8)


def remove(name):
    return "REMOVE", _string(name), None


def rename(old, new):
    return "RENAME", _string(old) + _string(new), None


class Client:
    """One TCP connection to an NFSv4 server, one call at a time."""

    def __init__(self, host, port, uid=0, gid=0, timeout=30.0):
        self.uid, self.gid = uid, gid
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.xid = int.from_bytes(os.urandom(4), "big")
        self.clientid = None
        self.seqid = 0
        self.owner = os.urandom(8)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- RPC ------------------------------------------------------------
    def _recv(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buf += chunk
        return bytes(buf)

    def call(self, proc, body):
        """One RPC of the NFS program; returns the reply's results."""
        self.xid = (self.xid + 1) & 0xffffffff
        cred = (_u32(0) + _string("daxfs-test") + _u32(self.uid) + _u32(self.gid) +
                _u32(1) + _u32(self.gid))
        msg = (_u32(self.xid) + _u32(0) + _u32(2) + _u32(NFS_PROGRAM) + _u32(NFS_V4) +
               _u32(proc) + _u32(AUTH_SYS) + _opaque(cred) + _u32(0) + _u32(0) + body)
        self.sock.sendall(_u32(0x80000000 | len(msg)) + msg)
        reply = b""
        while True:
            mark = struct.unpack(">I", self._recv(4))[0]
            reply += self._recv(mark & 0x7fffffff)
            if mark & 0x80000000:
                break
        r = _Reader(reply)
        xid, mtype, stat = r.u32(), r.u32(), r.u32()
        if xid != self.xid or mtype != 1 or stat != 0:
            raise ConnectionError(f"RPC reply xid {xid} type {mtype} denied {stat}")
        r.u32()
        r.opaque()          # verifier
        accept = r.u32()
        if accept != 0:
            raise ConnectionError(f"RPC call not accepted: {accept}")
        return r

    def null(self):
        """The NULL procedure: a round trip that does nothing."""
        self.call(0, b"")

    def compound(self, *ops):
        """Runs ops in one COMPOUND; returns the decoded results of the ops
        that have a decoder, in order. Raises Nfs4Error at the first failure."""
        body = _string("") + _u32(0) + _u32(len(ops))
        for name, args, _ in ops:
            body += _u32(OP[name]) + args
        r = self.call(1, body)
        r.u32()             # the compound's status is the last op's
        r.opaque()          # tag
        nres = r.u32()
        out = []
        for i, (name, _, decode) in enumerate(ops):
            if i >= nres:
                break
            opnum, status = r.u32(), r.u32()
            if opnum != OP[name]:
                raise ConnectionError(f"reply to {name} is for op {opnum}")
            if status != 0:
                raise Nfs4Error(name, status)
            if name in ("REMOVE",):
                r.u32(), r.u64(), r.u64()                   # change_info4
            elif name == "RENAME":
                for _ in range(2):
                    r.u32(), r.u64(), r.u64()
            elif decode is not None:
                out.append(decode(r))
        return out

    # ---- paths ------------------------------------------------------------
    @staticmethod
    def _walk(path):
        return [putrootfh()] + [lookup(c) for c in path.strip("/").split("/") if c]

    def handle(self, path):
        """The file handle of path (from the pseudo root: /export/...)."""
        return self.compound(*self._walk(path), getfh())[0]

    def stat(self, fh):
        return self.compound(putfh(fh), getattr_())[0]

    def read(self, fh, offset, count):
        return self.compound(putfh(fh), read(offset, count))[0]

    def read_all(self, fh, chunk=1 << 20):
        data, off = bytearray(), 0
        while True:
            part, eof = self.read(fh, off, chunk)
            data += part
            off += len(part)
            if eof or not part:
                return bytes(data)

    def write(self, fh, offset, data, stable=FILE_SYNC):
        """Returns (count written, how committed, write verifier)."""
        return self.compound(putfh(fh), write(offset, data, stable))[0]

    def write_all(self, fh, data, chunk=1 << 20, stable=FILE_SYNC):
        for off in range(0, len(data), chunk):
            part = data[off:off + chunk]
            while part:
                n = self.write(fh, off, part, stable)[0]
                part, off = part[n:], off + n

    def commit(self, fh):
        return self.compound(putfh(fh), commit())[0]

    def remove(self, dir_path, name):
        self.compound(*self._walk(dir_path), remove(name))

    def rename(self, dir_path, old, new_dir_path, new):
        self.compound(*self._walk(dir_path), savefh(), *self._walk(new_dir_path),
                      rename(old, new))

    # ---- creating a file: SETCLIENTID once, then OPEN + CLOSE --------------
    def _one_op(self, name, args, fh=None, seqid=False):
        """A COMPOUND of op name alone, or after PUTFH fh; returns the reply
        read up to name's result. seqid: the op counts in the open-owner's
        sequence, failed or not. Raises Nfs4Error if it fails."""
        ops = [] if fh is None else [_u32(OP["PUTFH"]) + _opaque(fh)]
        ops.append(_u32(OP[name]) + args)
        r = self.call(1, _string("") + _u32(0) + _u32(len(ops)) + b"".join(ops))
        r.u32(), r.opaque(), r.u32()
        if fh is not None:
            r.u32(), r.u32()            # PUTFH's result
        opnum, status = r.u32(), r.u32()
        if seqid:
            self.seqid += 1
        if opnum != OP[name]:
            raise ConnectionError(f"reply to {name} is for op {opnum}")
        if status != 0:
            raise Nfs4Error(name, status)
        return r

    def _setclientid(self):
        verifier = os.urandom(8)
        cid = verifier + _opaque(b"daxfs-nfs4-" + self.owner)
        cb = _u32(0x40000000) + _string("tcp") + _string("127.0.0.1.0.0") + _u32(1)
        r = self._one_op("SETCLIENTID", cid + cb)
        clientid, confirm = r.u64(), r.fixed(8)
        self._one_op("SETCLIENTID_CONFIRM", _u64(clientid) + confirm)
        self.clientid = clientid

    def create(self, dir_path, name, mode=0o644):
        """Creates (or truncates) name in dir_path with OPEN (UNCHECKED4) and
        closes it; returns its file handle."""
        if self.clientid is None:
            self._setclientid()
        attrs = _bitmap([4, FATTR_MODE]) + _opaque(_u64(0) + _u32(mode))
        args = (_u32(self.seqid) + _u32(2) + _u32(0) +             # seqid, WRITE, DENY_NONE
                _u64(self.clientid) + _opaque(self.owner) +
                _u32(1) + _u32(0) + attrs +                        # CREATE, UNCHECKED4
                _u32(0) + _string(name))                           # CLAIM_NULL
        ops = self._walk(dir_path)
        body = _string("") + _u32(0) + _u32(len(ops) + 2)
        for op_name, op_args, _ in ops:
            body += _u32(OP[op_name]) + op_args
        body += _u32(OP["OPEN"]) + args + _u32(OP["GETFH"])
        r = self.call(1, body)
        r.u32(), r.opaque(), r.u32()
        for op_name, _, _ in ops:
            opnum, status = r.u32(), r.u32()
            if status != 0:
                raise Nfs4Error(op_name, status)
        opnum, status = r.u32(), r.u32()
        self.seqid += 1
        if status != 0:
            raise Nfs4Error("OPEN", status)
        stateid = r.fixed(16)
        r.u32(), r.u64(), r.u64()       # change_info4
        rflags = r.u32()
        r.bitmap()                      # attrset
        if r.u32() != 0:                # a delegation: never asked for, none expected
            raise ConnectionError("OPEN returned a delegation")
        opnum, status = r.u32(), r.u32()
        fh = r.opaque()
        if rflags & 2:                  # OPEN4_RESULT_CONFIRM
            r = self._one_op("OPEN_CONFIRM", stateid + _u32(self.seqid), fh, seqid=True)
            stateid = r.fixed(16)
        self._one_op("CLOSE", _u32(self.seqid) + stateid, fh, seqid=True)
        return fh
