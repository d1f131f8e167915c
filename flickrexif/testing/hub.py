"""A loopback stand-in for the Hugging Face Hub's HTTP API, enough for ``HfApi`` to push and tag.

Speaks the wire format ``huggingface_hub``'s client uses (read from its source): ``whoami-v2``,
``repos/create``, ``validate-yaml``, ``preupload`` (every file answered ``regular``, so contents
arrive inline in the commit), the NDJSON ``commit`` endpoint (``file``, ``deletedFile``,
``deletedFolder``), ``tag``, ``refs`` and ``tree``.  Repositories live in memory as commits of
``path → bytes``; tests read :attr:`HubStandin.repos` to check what was committed and tagged.
Writes and ``whoami`` without the expected bearer token get 401, as on the Hub; reads (``refs``,
``tree``, file downloads by ``resolve``, dataset info: what ``datasets.load_dataset(repo,
revision=...)`` reads) need none, as for public repositories.

Model repositories download as ``hf_hub_download`` asks (``HEAD``/``GET
/ORG/NAME/resolve/REVISION/PATH``): ``ETag`` and ``X-Repo-Commit`` headers, byte ranges
(``Range: bytes=N-`` → 206, or 416 past the end), and the Hub's ``X-Error-Code`` answers
(``RepoNotFound`` with 401 for a missing repository, as the Hub answers so as not to reveal private
ones; ``RevisionNotFound``; ``EntryNotFound``). Repositories named in :attr:`HubStandin.gated`
answer 401 ``GatedRepo`` without the bearer token. :attr:`HubStandin.requests` records every request
as ``(method, path, Range header or None)``.

Failures on demand, for what a client must survive: :meth:`HubStandin.fail` answers the next
request(s) to an action (``commit``, ``tag``, ...) with an HTTP error, or drops the connection
without an answer, before or after doing the work (a commit that lands but whose answer is lost).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

GITATTRIBUTES = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"
_RESOLVE = re.compile(r"^/datasets/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)$")
_INFO = re.compile(r"^/api/datasets/([^/]+)/([^/]+)/revision/([^/]+)$")
_MODEL_RESOLVE = re.compile(r"^/(?!(?:api|datasets|spaces)/)([^/]+)/([^/]+)/resolve/([^/]+)/(.+)$")
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")
_REPO_PATH = re.compile(
    r"^/api/(models|datasets|spaces)/([^/]+)/([^/]+)/(preupload|commit|tag|tree|refs)(?:/([^/]+))?(/.*)?$"
)


@dataclass
class Commit:
    oid: str
    parent: str | None
    message: str
    files: dict[str, bytes]


@dataclass
class Fault:
    """The next ``times`` requests to ``action`` fail: HTTP ``status``, or ``status=None`` drops the
    connection (``after=True``: once the work is done, as when only the answer is lost)."""

    action: str
    status: int | None = 500
    times: int = 1
    after: bool = False


@dataclass
class Repo:
    repo_type: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        oid = self.branches.get(revision) or self.tags.get(revision) or revision
        return self.commits.get(oid)

    def files_at(self, revision: str) -> dict[str, bytes]:
        commit = self.resolve(revision)
        return {} if commit is None else dict(commit.files)


def _blob_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def byte_range(asked: str | None, content: bytes) -> tuple[int, bytes, dict[str, str]]:
    """(status, body, headers) of a server that honours ``Range: bytes=N-[M]`` for ``content``:
    200 and the whole of it without a range, 206 and the part, 416 past the end."""
    match = _RANGE.match(asked or "")
    if match is None:
        return 200, content, {}
    start = int(match[1])
    end = min(int(match[2]), len(content) - 1) if match[2] else len(content) - 1
    if start >= len(content) or start > end:
        return 416, b"", {"Content-Range": f"bytes */{len(content)}"}
    return 206, content[start : end + 1], {"Content-Range": f"bytes {start}-{end}/{len(content)}"}


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


class HubStandin:
    """``with HubStandin(token="hf_test") as hub: HfApi(endpoint=hub.url, token="hf_test")``.

    ``gated``: model repositories whose files need ``Authorization: Bearer <token>``.
    """

    def __init__(self, token: str = "hf_test", user: str = "tester") -> None:
        self.token = token
        self.user = user
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.gated: set[str] = set()
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def __enter__(self) -> HubStandin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def push(self, repo_id: str, files: dict[str, bytes], message: str = "files") -> str:
        """Create model repository ``repo_id`` (once) and commit ``files`` to it with huggingface_hub's own
        client, as a user with this stand-in's token would; returns the commit."""
        from huggingface_hub import CommitOperationAdd, HfApi

        api = HfApi(endpoint=self.url, token=self.token)
        api.create_repo(repo_id, exist_ok=True)
        operations = [CommitOperationAdd(path, content) for path, content in files.items()]
        return api.create_commit(repo_id, operations=operations, commit_message=message).oid

    def fail(self, action: str, status: int | None = 500, *, times: int = 1, after: bool = False) -> Fault:
        """Make the next ``times`` ``action`` requests fail (see :class:`Fault`)."""
        fault = Fault(action, status, times, after)
        with self._lock:
            self.faults.append(fault)
        return fault

    def _take_fault(self, action: str) -> Fault | None:
        for fault in self.faults:
            if fault.action == action and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    # --- what the handler calls (under the lock) ---------------------------------------------------

    def create_repo(self, repo_id: str, repo_type: str) -> tuple[int, dict]:
        if repo_id in self.repos:
            return 409, {"error": "You already created this dataset repo", "url": self._repo_url(repo_id, repo_type)}
        repo = Repo(repo_type)
        first = Commit(
            self._oid(None, "initial commit", {".gitattributes": GITATTRIBUTES}),
            None,
            "initial commit",
            {".gitattributes": GITATTRIBUTES},
        )
        repo.commits[first.oid] = first
        repo.branches["main"] = first.oid
        self.repos[repo_id] = repo
        return 200, {"url": self._repo_url(repo_id, repo_type)}

    def commit(self, repo_id: str, revision: str, lines: list[dict]) -> tuple[int, dict]:
        repo = self.repos[repo_id]
        if revision not in repo.branches:
            return 404, {"error": f"branch {revision} not found"}
        parent = repo.commits[repo.branches[revision]]
        files = dict(parent.files)
        header = lines[0]
        if header.get("key") != "header":
            return 400, {"error": "first line must be the header"}
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            if key == "file":
                if value.get("encoding") != "base64":
                    return 400, {"error": "only base64 contents are supported"}
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                if value["path"] not in files:
                    return 404, {"error": f"A file with this name doesn't exist: {value['path']}"}
                del files[value["path"]]
            elif key == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                for path in [p for p in files if p.startswith(prefix)]:
                    del files[path]
            else:
                return 400, {"error": f"unsupported commit operation {key} (this stand-in answers regular uploads)"}
        message = header["value"]["summary"]
        commit = Commit(self._oid(parent.oid, message, files), parent.oid, message, files)
        repo.commits[commit.oid] = commit
        repo.branches[revision] = commit.oid
        return 200, {
            "commitUrl": f"{self._repo_url(repo_id, repo.repo_type)}/commit/{commit.oid}",
            "commitOid": commit.oid,
            "pullRequestUrl": None,
        }

    def tag(self, repo_id: str, revision: str, tag: str) -> tuple[int, dict]:
        repo = self.repos[repo_id]
        commit = repo.resolve(revision)
        if commit is None:
            return 404, {"error": f"revision {revision} not found"}
        if tag in repo.tags:
            return 409, {"error": f"tag {tag} already exists"}
        repo.tags[tag] = commit.oid
        return 200, {}

    def _repo_url(self, repo_id: str, repo_type: str) -> str:
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        return f"{self.url}/{prefix}{repo_id}"

    @staticmethod
    def _oid(parent: str | None, message: str, files: dict[str, bytes]) -> str:
        digest = hashlib.sha1(f"{parent}\n{message}\n".encode())
        for path in sorted(files):
            digest.update(f"{path}\0{_blob_oid(files[path])}\n".encode())
        return digest.hexdigest()


class _Handler(BaseHTTPRequestHandler):
    hub: HubStandin
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":  # a HEAD answer has no body: one would corrupt the kept-open connection
            self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorised(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {self.hub.token}"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._body() if method == "POST" else b""
        hub = self.hub
        with hub._lock:
            hub.requests.append((method, url.path, self.headers.get("Range")))
            public_read = method in ("GET", "HEAD") and url.path != "/api/whoami-v2"  # repositories are public
            if not public_read and not self._authorised():
                return self._send(401, {"error": "Invalid credentials in Authorization header"})
            read = _RESOLVE.match(url.path) or _INFO.match(url.path)
            if read and public_read:
                return self._read(read)
            model_file = _MODEL_RESOLVE.match(url.path)
            if model_file and public_read:
                return self._model_file(*model_file.groups())
            if method == "GET" and url.path == "/api/whoami-v2":
                return self._send(200, {"type": "user", "name": hub.user, "orgs": [], "auth": {"type": "access_token"}})
            if method == "POST" and url.path == "/api/repos/create":
                payload = json.loads(body)
                repo_id = f"{payload.get('organization') or hub.user}/{payload['name']}"
                status, answer = hub.create_repo(repo_id, payload.get("type") or "model")
                return self._send(status, answer)
            if method == "POST" and url.path == "/api/validate-yaml":
                return self._validate_yaml(json.loads(body))
            match = _REPO_PATH.match(url.path)
            if match is None:
                return self._send(404, {"error": f"no route {method} {url.path}"})
            kind, org, name, action, revision, rest = match.groups()
            repo_id = f"{org}/{name}"
            repo = hub.repos.get(repo_id)
            if repo is None or repo.repo_type != kind[:-1]:
                return self._send(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            revision = unquote(revision or "main")
            fault = hub._take_fault(action) if method == "POST" else None
            if fault is not None and fault.status is not None:
                return self._send(fault.status, {"error": f"{action} failed (stand-in fault)"})
            if fault is not None and not fault.after:
                return self._drop()
            if fault is not None:  # do the work, then lose the answer
                real, self.wfile = self.wfile, io.BytesIO()
                self._route(hub, repo, repo_id, method, action, revision, rest, url, body)
                self.wfile = real
                return self._drop()
            return self._route(hub, repo, repo_id, method, action, revision, rest, url, body)

    def _drop(self) -> None:
        """Close the connection without an answer."""
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _route(
        self, hub: HubStandin, repo: Repo, repo_id: str, method: str, action: str, revision: str, rest, url, body: bytes
    ) -> None:
        if action == "refs" and method == "GET":
            return self._send(200, self._refs(repo))
        if action == "tree" and method == "GET":
            return self._tree(repo, revision, unquote(rest or "").lstrip("/"), parse_qs(url.query))
        if action == "preupload" and method == "POST":
            files = json.loads(body)["files"]
            return self._send(
                200,
                {
                    "files": [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None} for f in files
                    ]
                },
            )
        if action == "commit" and method == "POST":
            lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
            status, answer = hub.commit(repo_id, revision, lines)
            return self._send(status, answer)
        if action == "tag" and method == "POST":
            status, answer = hub.tag(repo_id, revision, json.loads(body)["tag"])
            return self._send(status, answer)
        return self._send(405, {"error": f"{method} not allowed on {action}"})

    def _read(self, match: re.Match) -> None:
        """A file at a revision (``resolve``) or the dataset's info there (its files)."""
        org, name, revision = match.group(1, 2, 3)
        repo = self.hub.repos.get(f"{org}/{name}")
        if repo is None:
            return self._reply(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"})
        commit = repo.resolve(unquote(revision))
        if commit is None:  # as the Hub answers an unknown branch, tag or commit
            return self._reply(404, b'{"error": "Invalid rev id"}', {"X-Error-Code": "RevisionNotFound"})
        if match.re is _INFO:
            info = {
                "id": f"{org}/{name}",
                "sha": commit.oid,
                "private": False,
                "disabled": False,
                "gated": False,
                "tags": [],
                "lastModified": "2025-01-01T00:00:00.000Z",
                "siblings": [{"rfilename": p} for p in sorted(commit.files)],
            }
            return self._reply(200, json.dumps(info).encode(), {"Content-Type": "application/json"})
        content = commit.files.get(unquote(match[4]))
        if content is None:
            return self._reply(404, b'{"error": "Entry not found"}', {"X-Error-Code": "EntryNotFound"})
        self._reply(200, content, {"ETag": f'"{_blob_oid(content)}"', "X-Repo-Commit": commit.oid})

    def _model_file(self, org: str, name: str, revision: str, path: str) -> None:
        """A model repository's file at a revision, as the Hub answers ``hf_hub_download``."""
        repo_id = f"{org}/{name}"
        repo = self.hub.repos.get(repo_id)
        if repo is None or repo.repo_type != "model":  # 401, as the Hub hides whether a private one exists
            message = "Repository not found"
            return self._reply(401, _error(message), {"X-Error-Code": "RepoNotFound", "X-Error-Message": message})
        if repo_id in self.hub.gated and not self._authorised():
            message = f"Access to model {repo_id} is restricted. You must have access to it and be authenticated."
            return self._reply(401, _error(message), {"X-Error-Code": "GatedRepo", "X-Error-Message": message})
        commit = repo.resolve(unquote(revision))
        if commit is None:
            return self._reply(404, _error("Invalid rev id"), {"X-Error-Code": "RevisionNotFound"})
        content = commit.files.get(unquote(path))
        if content is None:
            headers = {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit.oid}
            return self._reply(404, _error("Entry not found"), headers)
        headers = {"ETag": f'"{_blob_oid(content)}"', "X-Repo-Commit": commit.oid, "Accept-Ranges": "bytes"}
        status, part, range_headers = byte_range(self.headers.get("Range"), content)
        self._reply(status, part, {**headers, **range_headers})

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        """Raw bytes; a HEAD answer carries the headers only."""
        self.send_response(status)
        for header, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(header, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _validate_yaml(self, payload: dict) -> None:
        content = payload.get("content", "")
        if content.startswith("---\n"):
            front = content[4 : content.find("\n---", 4)]
            try:
                yaml.safe_load(front)
            except yaml.YAMLError as error:
                return self._send(400, {"errors": [{"message": str(error)}], "warnings": []})
        self._send(200, {"errors": [], "warnings": []})

    @staticmethod
    def _refs(repo: Repo) -> dict:
        def ref(kind: str, name: str, oid: str) -> dict:
            return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": oid}

        return {
            "branches": [ref("heads", n, o) for n, o in sorted(repo.branches.items())],
            "converts": [],
            "tags": [ref("tags", n, o) for n, o in sorted(repo.tags.items())],
            "pullRequests": [],
        }

    def _tree(self, repo: Repo, revision: str, prefix: str, query: dict) -> None:
        commit = repo.resolve(revision)
        if commit is None:
            return self._send(404, {"error": "Revision not found"}, {"X-Error-Code": "RevisionNotFound"})
        recursive = query.get("recursive", ["False"])[0].lower() == "true"
        base = prefix.rstrip("/") + "/" if prefix else ""
        entries: dict[str, dict] = {}
        for path, content in sorted(commit.files.items()):
            if not path.startswith(base):
                continue
            relative = path[len(base) :]
            parts = relative.split("/")
            for depth in range(1, len(parts)):
                folder = base + "/".join(parts[:depth])
                if recursive or depth == 1:
                    entries.setdefault(folder, {"type": "directory", "path": folder, "oid": "0" * 40})
                if not recursive:
                    break
            if recursive or len(parts) == 1:
                entries[path] = {"type": "file", "path": path, "size": len(content), "oid": _blob_oid(content)}
        self._send(200, [entries[key] for key in sorted(entries)])
