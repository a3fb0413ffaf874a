"""Checks HTTP responses and feed messages against schemas/openapi.yaml.

    import apispec
    apispec.validate("GET", "/api/v1/campaigns/12", 200, body, "application/json")
    apispec.validate_event(message)

validate() takes the full path either as the spec's template
("/api/v1/campaigns/{id}") or as a concrete path ("/api/v1/campaigns/12"),
finds the operation and the documented response for the status, and checks
the content type and the body against its schema; it raises AssertionError
saying what differs. Problems (application/problem+json) are also checked
for a slug that fits the status (the spec's info.x-problem-slugs). A path
that exists with other methods may answer 405, an unknown path 404; both
with a problem body.

The spec is OpenAPI 3.0: its schemas are turned into JSON Schema (draft 4,
which 3.0 follows) by inlining every $ref against the whole document and
turning `nullable: true` into a "null" type. Only python3-yaml and
python3-jsonschema are needed.
"""

import datetime
import json
import os
import re

import jsonschema
import yaml

SPEC_PATH = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                          "..", "..", "schemas", "openapi.yaml"))
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Keywords of OpenAPI's schema object that JSON Schema does not have.
_OPENAPI_ONLY = {"nullable", "discriminator", "readOnly", "writeOnly", "xml",
                 "externalDocs", "example", "deprecated"}
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _is_rfc3339(value):
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        datetime.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _format_checker():
    # Only the formats this spec relies on: jsonschema's own date-time
    # check needs a package Debian does not install with it.
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(_is_rfc3339)
    return checker


def _pointer(doc, ref):
    """The node that a local $ref ("#/a/b") names; KeyError if none."""
    if not ref.startswith("#/"):
        raise KeyError(f"only local references are supported: {ref}")
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(f"unresolvable reference {ref} (no {part!r})")
    return node


def _media_type(content_type):
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_json(media):
    return media == "application/json" or media.endswith("+json")


class Spec:
    """The loaded spec and what validate() needs from it."""

    def __init__(self, path=SPEC_PATH):
        with open(path) as f:
            self.doc = yaml.safe_load(f)
        self.path = path
        self.format_checker = _format_checker()
        slugs = self.doc.get("info", {}).get("x-problem-slugs", {})
        self.problem_slugs = {int(k): set(v) for k, v in slugs.items()}
        self.operations = {}  # (METHOD, full template) -> operation object
        self.templates = {}   # full template -> path item
        for path_tmpl, item in self.doc["paths"].items():
            full = self.full_path(path_tmpl, item)
            self.templates[full] = item
            for method in METHODS:
                if method in item:
                    self.operations[(method.upper(), full)] = item[method]

    def resolve(self, node):
        """node with a top-level $ref followed (repeatedly)."""
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            if node["$ref"] in seen:
                raise KeyError(f"reference cycle at {node['$ref']}")
            seen.add(node["$ref"])
            node = _pointer(self.doc, node["$ref"])
        return node

    def full_path(self, path_tmpl, item):
        """The path a client requests: the server URL (the path item's own
        servers first, then the document's) joined with the template."""
        servers = item.get("servers") or self.doc.get("servers") or [{"url": "/"}]
        base = servers[0]["url"].rstrip("/")
        return base + path_tmpl

    def json_schema(self, node, _stack=()):
        """The OpenAPI schema node as a self-contained JSON Schema."""
        if isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in _stack:
                raise KeyError(f"recursive schema at {ref}: not supported")
            return self.json_schema(_pointer(self.doc, ref), _stack + (ref,))
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key in _OPENAPI_ONLY or key.startswith("x-"):
                continue
            if key in ("properties", "patternProperties"):
                out[key] = {k: self.json_schema(v, _stack) for k, v in value.items()}
            elif key in ("items", "not") or (key == "additionalProperties"
                                             and isinstance(value, dict)):
                out[key] = self.json_schema(value, _stack)
            elif key in ("allOf", "anyOf", "oneOf"):
                out[key] = [self.json_schema(v, _stack) for v in value]
            else:
                out[key] = value
        if node.get("nullable") is True:
            out = _nullable(out)
        return out

    def template_for(self, path):
        """The full path template that a concrete path matches, or None.
        Literal segments beat placeholders when two templates match."""
        path = path.split("?", 1)[0]
        if path in self.templates:
            return path
        segs = path.split("/")
        best, best_score = None, -1
        for tmpl in self.templates:
            tsegs = tmpl.split("/")
            if len(tsegs) != len(segs):
                continue
            score = 0
            for t, s in zip(tsegs, segs):
                if t.startswith("{") and t.endswith("}"):
                    if not s:
                        break
                elif t == s:
                    score += 1
                else:
                    break
            else:
                if score > best_score:
                    best, best_score = tmpl, score
        return best

    def validator(self, schema_node):
        schema = self.json_schema(schema_node)
        return jsonschema.Draft4Validator(schema, format_checker=self.format_checker)

    def check(self, schema_node, instance, what):
        """Raises AssertionError listing every way instance fails the schema."""
        errors = sorted(self.validator(schema_node).iter_errors(instance),
                        key=lambda e: list(e.absolute_path))
        if errors:
            lines = [f"{what}: {len(errors)} schema error(s):"]
            for e in errors[:20]:
                lines.append("  " + _describe(e))
            lines.append("  body: " + _short(instance))
            raise AssertionError("\n".join(lines))


def _nullable(schema):
    if "type" in schema and isinstance(schema["type"], str) and not any(
            k in schema for k in ("allOf", "anyOf", "oneOf", "not")):
        schema = dict(schema, type=[schema["type"], "null"])
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = list(schema["enum"]) + [None]
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


def _describe(error):
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    text = f"at {where}: {error.message}"
    if error.context:
        # oneOf/anyOf: say why each branch failed, briefly.
        by_branch = {}
        for sub in error.context:
            branch = sub.schema_path[0] if sub.schema_path else "?"
            by_branch.setdefault(branch, []).append(sub)
        for branch, subs in sorted(by_branch.items(), key=lambda kv: str(kv[0])):
            sub = subs[0]
            sub_where = "/".join(str(p) for p in sub.absolute_path) or "(root)"
            text += f"\n      branch {branch}: at {sub_where}: {sub.message}"
    return text


def _short(value, limit=400):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "..."


_spec = None


def spec():
    """The spec, loaded once."""
    global _spec
    if _spec is None:
        _spec = Spec()
    return _spec


def template_for(path):
    """Maps a concrete path (/api/v1/campaigns/12?x=1) to its template
    (/api/v1/campaigns/{id}); None when no path of the spec matches."""
    return spec().template_for(path)


def _decode(body, media, what):
    """JSON parsed, text as str, anything else (audio) left as it is."""
    if isinstance(body, (bytes, bytearray)) and (_is_json(media) or media.startswith("text/")):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise AssertionError(f"{what}: {media} body is not UTF-8 ({e})")
    if isinstance(body, str) and _is_json(media):
        try:
            return json.loads(body)
        except ValueError as e:
            raise AssertionError(f"{what}: body is not JSON ({e}): {_short(body)}")
    return body


def _is_empty(body):
    return body is None or body == "" or body == b""


def _check_problem(s, status, body, what):
    if not isinstance(body, dict):
        return
    if body.get("status") != status:
        raise AssertionError(f"{what}: problem status {body.get('status')!r} "
                             f"differs from the HTTP status {status}")
    slug = str(body.get("type", "")).rpartition(":")[2]
    allowed = s.problem_slugs.get(status)
    if allowed is not None and slug not in allowed:
        raise AssertionError(f"{what}: problem slug {slug!r} does not fit status "
                             f"{status} (expected one of {sorted(allowed)})")


# What the HTTP server answers by itself, before any route runs, on any
# path: 411 (POST, PUT or PATCH without Content-Length), 413, 414, 431, 501,
# 503.
SERVER_REFUSALS = {411: "length-required", 413: "body-too-large",
                   414: "uri-too-long", 431: "header-fields-too-large",
                   501: "not-implemented", 503: "unavailable"}


def _server_refusal(s, status, body, content_type, what):
    media = _media_type(content_type)
    if media != "application/problem+json":
        raise AssertionError(f"{what}: expected application/problem+json, got {content_type!r}")
    body = _decode(body, media, what)
    s.check(s.doc["components"]["schemas"]["Problem"], body, what)
    if body.get("type") != "urn:welcomedly:problem:" + SERVER_REFUSALS[status]:
        raise AssertionError(f"{what}: problem type {body.get('type')!r} for {status}")


def _undocumented(s, path, status, body, content_type, what):
    """A response for an operation the spec does not list: only the
    generic 404 (unknown path) and 405 (other method) are acceptable, and
    the server's own refusals."""
    if status in SERVER_REFUSALS:
        _server_refusal(s, status, body, content_type, what)
        return
    expected = 404 if s.template_for(path) is None else 405
    if status != expected:
        raise AssertionError(f"{what}: no such operation in the spec, so only {expected} "
                             f"is acceptable, got {status}")
    media = _media_type(content_type)
    if media != "application/problem+json":
        raise AssertionError(f"{what}: expected application/problem+json, got {content_type!r}")
    body = _decode(body, media, what)
    s.check(s.doc["components"]["schemas"]["Problem"], body, what)
    _check_problem(s, status, body, what)


def validate(method, path, status, body, content_type):
    """Checks one response against the spec; raises AssertionError.

    method: "GET", ...; path: the full path template or a concrete path
    (a query string is ignored); status: the HTTP status (int); body: the
    parsed JSON, or the body as str/bytes (parsed here when the content
    type is JSON), or None/"" for no body; content_type: the response's
    Content-Type header (parameters ignored), or None.
    """
    s = spec()
    method = method.upper()
    status = int(status)
    template = s.template_for(path)
    what = f"{method} {path} -> {status}"
    op = s.operations.get((method, template)) if template else None
    if op is None:
        _undocumented(s, path, status, body, content_type, what)
        return
    responses = op.get("responses", {})
    resp = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") \
        or responses.get("default")
    if resp is None:
        raise AssertionError(f"{what}: status {status} is not documented for "
                             f"{method} {template} (documented: {', '.join(sorted(responses))})")
    resp = s.resolve(resp)
    content = resp.get("content")
    if not content:
        if not _is_empty(body):
            raise AssertionError(f"{what}: the spec documents no body, got {_short(body)}")
        return
    media = _media_type(content_type)
    if media not in content:
        raise AssertionError(f"{what}: content type {content_type!r} is not documented "
                             f"(documented: {', '.join(sorted(content))})")
    body = _decode(body, media, what)
    schema = content[media].get("schema")
    if schema is None:
        return
    if _is_json(media):
        s.check(schema, body, what)
        if media == "application/problem+json":
            _check_problem(s, status, body, what)
    elif s.resolve(schema).get("format") == "binary":
        if not isinstance(body, (bytes, bytearray)) or not body:
            raise AssertionError(f"{what}: expected a non-empty binary body for {media}")
    elif not isinstance(body, str):
        raise AssertionError(f"{what}: expected a text body for {media}, got {type(body).__name__}")


def validate_event(message):
    """Checks one event-feed message (a dict, or its JSON text) against the
    spec's EventMessage; raises AssertionError."""
    s = spec()
    if isinstance(message, (str, bytes)):
        message = _decode(message, "application/json", "event")
    what = f"event {message.get('type') if isinstance(message, dict) else '?'}"
    s.check(s.doc["components"]["schemas"]["EventMessage"], message, what)


def validate_schema(name, instance):
    """Checks instance against components/schemas/<name>; AssertionError."""
    s = spec()
    s.check(s.doc["components"]["schemas"][name], instance, name)
