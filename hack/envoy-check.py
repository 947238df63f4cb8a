#!/usr/bin/env python3
"""Checks rendered Envoy configs against Envoy's own v3 API definitions.

Every message of the `xds-protos` package (generated from envoyproxy/data-plane-api) is
registered, so each `@type` in a `typed_config` resolves. A config is one sidecar's set of files
(`bootstrap.json`, `cds.json`, `lds.json`, ...). Each file is read the way Envoy reads it:

  - `bootstrap*.json` as an `envoy.config.bootstrap.v3.Bootstrap`;
  - a file with `resources` as a `DiscoveryResponse` (what `path_config_source` files hold), every
    resource of the type its name implies (cds → Cluster, lds → Listener, rds → RouteConfiguration,
    eds → ClusterLoadAssignment, sds → Secret);
  - any other object with an `@type` as that message.

Then, as Envoy does on load:

  1. a strict protobuf JSON parse (`json_format`): unknown fields, wrong types, bad durations,
     unknown enum names and unknown `@type`s fail;
  2. the protoc-gen-validate rules carried in the definitions (required fields and oneofs, lengths,
     bounds, patterns, header names, defined enums, item counts), also inside every `typed_config`,
     and Envoy's own refusal of negative durations;
  3. deprecated fields and enum values are refused (Envoy warns for them and rejects many);
  4. checks Envoy makes in code: unique cluster and listener names, unique virtual-host names and
     domains in a route table, weighted clusters whose weights sum to more than 0, the router as
     the last (and only terminal) HTTP filter, every cluster a route names defined in the config's
     cds (what `validate_clusters` would check at load time), and the files the bootstrap loads
     present in the config.

Usage:
  envoy-check.py FILE...                 files in one folder form one config; exit 1 on problems
  envoy-check.py --jsonl                 stdin: one config a line, {"name": N, "files": {F: TEXT}}
  envoy-check.py --serve --port-file P [--parent-pid PID] [--idle-exit SECONDS]
        HTTP on 127.0.0.1 (a free port, written to P): POST /check with
        {"configs": [{"name": N, "files": {F: TEXT}}]} answers {"results": [{"name": N,
        "problems": ["FILE: PATH: MESSAGE", ...]}]}. Exits when PID is gone or after the idle time.

Exit codes: 0 every config valid, 1 problems found (one line each), 2 usage or setup error.
"""

import argparse
import importlib
import json
import os
import pkgutil
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from google.protobuf import any_pb2, descriptor, descriptor_pool, json_format, message_factory
    import envoy
    import udpa
    import validate
    import xds
    from validate import validate_pb2
except ImportError as error:  # pragma: no cover - setup problem
    print(f"envoy-check: {error}: run hack/install-deps.sh (it installs xds-protos and protobuf in .venv)",
          file=sys.stderr)
    sys.exit(2)


def register_everything():
    """Imports every generated module, so every message is in the default pool."""
    for package in (envoy, xds, udpa, validate):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if module.name.endswith("_pb2"):
                importlib.import_module(module.name)


POOL = descriptor_pool.Default()
FD = descriptor.FieldDescriptor
TYPE_PREFIX = "type.googleapis.com/"
RESOURCE_TYPES = {
    "cds": "envoy.config.cluster.v3.Cluster",
    "lds": "envoy.config.listener.v3.Listener",
    "rds": "envoy.config.route.v3.RouteConfiguration",
    "eds": "envoy.config.endpoint.v3.ClusterLoadAssignment",
    "sds": "envoy.extensions.transport_sockets.tls.v3.Secret",
}
HCM = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
ROUTER = "envoy.extensions.filters.http.router.v3.Router"
WRAPPERS = {
    "google.protobuf.DoubleValue": "double", "google.protobuf.FloatValue": "float",
    "google.protobuf.Int64Value": "int64", "google.protobuf.UInt64Value": "uint64",
    "google.protobuf.Int32Value": "int32", "google.protobuf.UInt32Value": "uint32",
    "google.protobuf.BoolValue": "bool", "google.protobuf.StringValue": "string",
    "google.protobuf.BytesValue": "bytes",
}
HEADER_NAME = re.compile(r"^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$")
HEADER_VALUE_STRICT = re.compile(r"^[^\u0000-\u0008\u000A-\u001F\u007F]*$")
HEADER_VALUE_LOOSE = re.compile(r"^[^\u0000\u000A\u000D]*$")


def message_class(full_name):
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(full_name))


def unpack(any_message):
    """The message inside an Any, or None when its type is unknown (the parse reports that)."""
    name = any_message.type_url.split("/")[-1]
    try:
        inner = message_class(name)()
    except KeyError:
        return None
    any_message.Unpack(inner)
    return inner


def rules_of(field):
    options = field.GetOptions()
    return options.Extensions[validate_pb2.rules] if options.HasExtension(validate_pb2.rules) else None


def seconds(duration):
    return duration.seconds + duration.nanos / 1e9


class Validator:
    """protoc-gen-validate's rules and deprecations, walked over a parsed message."""

    def __init__(self, problems, where):
        self.problems = problems
        self.where = where

    def fail(self, path, text):
        self.problems.append(f"{self.where}: {path}: {text}")

    def message(self, msg, path):
        desc = msg.DESCRIPTOR
        options = desc.GetOptions()
        if (options.HasExtension(validate_pb2.disabled) and options.Extensions[validate_pb2.disabled]) or \
                (options.HasExtension(validate_pb2.ignored) and options.Extensions[validate_pb2.ignored]):
            return
        if desc.full_name == "google.protobuf.Duration":
            # Envoy refuses these on load whatever the field (MessageUtil's duration check).
            if msg.seconds < 0 or msg.nanos < 0:
                self.fail(path, "Envoy refuses negative durations")
            elif msg.seconds > 315576000000:
                self.fail(path, "Envoy refuses durations over 10,000 years")
            return
        if desc.full_name == "google.protobuf.Any":
            inner = unpack(msg)
            if inner is not None:
                self.message(inner, f"{path}<{inner.DESCRIPTOR.name}>")
            return
        for oneof in desc.oneofs:
            o = oneof.GetOptions()
            if o.HasExtension(validate_pb2.required) and o.Extensions[validate_pb2.required] \
                    and msg.WhichOneof(oneof.name) is None:
                self.fail(path or ".", f"one of {', '.join(f.name for f in oneof.fields)} is required")
        for field in desc.fields:
            self.field(msg, field, f"{path}.{field.name}" if path else field.name)

    def field(self, msg, field, path):
        repeated = field.is_repeated
        is_map = repeated and field.message_type is not None and field.message_type.GetOptions().map_entry
        has_presence = not repeated and (field.containing_oneof is not None or field.message_type is not None
                                         or field.has_presence)
        present = msg.HasField(field.name) if has_presence else (len(getattr(msg, field.name)) > 0 if repeated
                                                                 else getattr(msg, field.name) != field.default_value)
        if field.containing_oneof is not None and not present:
            return
        if present and field.GetOptions().deprecated:
            self.fail(path, "deprecated field: Envoy warns for it and may reject it; use its replacement")
        rules = rules_of(field)
        kind = rules.WhichOneof("type") if rules is not None else None
        if is_map:
            entries = getattr(msg, field.name)
            if kind == "map":
                self.map_rules(entries, rules.map, path)
            if field.message_type.fields_by_name["value"].message_type is not None:
                for key in entries:
                    self.message(entries[key], f"{path}[{key}]")
            return
        if repeated:
            items = getattr(msg, field.name)
            element_rules = None
            if kind == "repeated":
                r = rules.repeated
                if not (r.ignore_empty and len(items) == 0):
                    if r.HasField("min_items") and len(items) < r.min_items:
                        self.fail(path, f"needs at least {r.min_items} item(s), has {len(items)}")
                    if r.HasField("max_items") and len(items) > r.max_items:
                        self.fail(path, f"allows at most {r.max_items} item(s), has {len(items)}")
                    if r.unique and field.message_type is None and len(set(items)) != len(items):
                        self.fail(path, "items must be unique")
                element_rules = r.items if r.HasField("items") else None
            for i, item in enumerate(items):
                self.value(field, item, element_rules, f"{path}[{i}]")
            return
        if field.message_type is not None:
            if kind == "message" and rules.message.required and not present:
                self.fail(path, "is required")
            if kind in ("duration", "any") and getattr(rules, kind).required and not present:
                self.fail(path, "is required")
            if not present:
                return
            if kind == "message" and rules.message.skip:
                return
        self.value(field, getattr(msg, field.name), rules, path)

    def value(self, field, value, rules, path):
        """One value (a singular field or a repeated item) against its rules, then inside it."""
        kind = rules.WhichOneof("type") if rules is not None else None
        if field.message_type is not None:
            name = field.message_type.full_name
            if kind == "duration":
                self.duration_rules(value, rules.duration, path)
            elif kind == "any" and name == "google.protobuf.Any":
                # Some definitions put `any` rules on a field of another message type
                # (ExtensionConfigSource.config_source is a ConfigSource): only `required`
                # applies there, and it was checked with the field's presence.
                self.any_rules(value, rules.any, path)
            elif name in WRAPPERS and kind == WRAPPERS[name]:
                self.scalar_rules(value.value, kind, getattr(rules, kind), path)
            self.message(value, path)
            return
        if field.enum_type is not None:
            number = value
            known = field.enum_type.values_by_number.get(number)
            if known is not None and number != 0 and known.GetOptions().deprecated:
                self.fail(path, f"deprecated value {known.name}: Envoy warns for it and may reject it")
            if kind == "enum":
                r = rules.enum
                if r.defined_only and known is None:
                    self.fail(path, f"{number} is not a value of {field.enum_type.full_name}")
                if r.HasField("const") and number != r.const:
                    self.fail(path, f"must be {r.const}")
                if len(getattr(r, "in")) and number not in getattr(r, "in"):
                    self.fail(path, f"must be one of {list(getattr(r, 'in'))}")
                if number in r.not_in:
                    self.fail(path, f"must not be {number}")
            return
        if kind is not None:
            self.scalar_rules(value, kind, getattr(rules, kind), path)

    def scalar_rules(self, value, kind, r, path):
        if kind == "string":
            self.string_rules(value, r, path)
            return
        if kind == "bytes":
            if not (r.ignore_empty and not value):
                if r.HasField("min_len") and len(value) < r.min_len:
                    self.fail(path, f"needs at least {r.min_len} byte(s)")
                if r.HasField("max_len") and len(value) > r.max_len:
                    self.fail(path, f"allows at most {r.max_len} byte(s)")
            return
        if kind == "bool":
            if r.HasField("const") and value != r.const:
                self.fail(path, f"must be {str(r.const).lower()}")
            return
        if getattr(r, "ignore_empty", False) and value == 0:
            return
        self.bounds(value, self.limits(r), path)

    @staticmethod
    def limits(r, convert=lambda v: v):
        """A numeric or duration rule as plain values: const, gt, gte, lt, lte, in, not_in."""
        spec = {name: convert(getattr(r, name)) for name in ("const", "gt", "gte", "lt", "lte") if r.HasField(name)}
        spec["in"] = [convert(v) for v in getattr(r, "in")]
        spec["not_in"] = [convert(v) for v in r.not_in]
        return spec

    def bounds(self, value, spec, path, show=str):
        if "const" in spec and value != spec["const"]:
            self.fail(path, f"must be {show(spec['const'])}")
        words = {"gt": "greater than", "gte": "at least", "lt": "less than", "lte": "at most"}
        tests = {"gt": lambda b: value > b, "gte": lambda b: value >= b, "lt": lambda b: value < b, "lte": lambda b: value <= b}
        lower = next(((k, spec[k]) for k in ("gt", "gte") if k in spec), None)
        upper = next(((k, spec[k]) for k in ("lt", "lte") if k in spec), None)
        if lower and upper and upper[1] < lower[1]:  # an exclusive range: outside [upper, lower]
            if not (tests[lower[0]](lower[1]) or tests[upper[0]](upper[1])):
                self.fail(path, f"{show(value)} must be {words[upper[0]]} {show(upper[1])} or {words[lower[0]]} {show(lower[1])}")
        else:
            for bound in (lower, upper):
                if bound and not tests[bound[0]](bound[1]):
                    self.fail(path, f"{show(value)} must be {words[bound[0]]} {show(bound[1])}")
        if spec["in"] and value not in spec["in"]:
            self.fail(path, f"{show(value)} must be one of {[show(v) for v in spec['in']]}")
        if value in spec["not_in"]:
            self.fail(path, f"{show(value)} is not allowed")

    def string_rules(self, value, r, path):
        if r.ignore_empty and value == "":
            return
        n = len(value)
        if r.HasField("const") and value != r.const:
            self.fail(path, f"must be {r.const!r}")
        if r.HasField("len") and n != r.len:
            self.fail(path, f"must have {r.len} characters")
        if r.HasField("min_len") and n < r.min_len:
            self.fail(path, f"needs at least {r.min_len} character(s), has {n}")
        if r.HasField("max_len") and n > r.max_len:
            self.fail(path, f"allows at most {r.max_len} character(s), has {n}")
        size = len(value.encode())
        if r.HasField("min_bytes") and size < r.min_bytes:
            self.fail(path, f"needs at least {r.min_bytes} byte(s)")
        if r.HasField("max_bytes") and size > r.max_bytes:
            self.fail(path, f"allows at most {r.max_bytes} byte(s), has {size}")
        if r.HasField("pattern"):
            try:
                if re.search(r.pattern, value) is None:
                    self.fail(path, f"{value!r} does not match {r.pattern!r}")
            except re.error:
                pass  # an RE2 construct Python lacks: not checked
        if r.HasField("prefix") and not value.startswith(r.prefix):
            self.fail(path, f"must start with {r.prefix!r}")
        if r.HasField("suffix") and not value.endswith(r.suffix):
            self.fail(path, f"must end with {r.suffix!r}")
        if r.HasField("contains") and r.contains not in value:
            self.fail(path, f"must contain {r.contains!r}")
        if r.HasField("not_contains") and r.not_contains in value:
            self.fail(path, f"must not contain {r.not_contains!r}")
        if len(getattr(r, "in")) and value not in list(getattr(r, "in")):
            self.fail(path, f"{value!r} must be one of {list(getattr(r, 'in'))}")
        if value in list(r.not_in):
            self.fail(path, f"{value!r} is not allowed")
        if r.HasField("well_known_regex"):
            strict = r.strict  # proto2 default: true
            if r.well_known_regex == validate_pb2.HTTP_HEADER_NAME and \
                    not (HEADER_NAME if strict else HEADER_VALUE_LOOSE).match(value):
                self.fail(path, f"{value!r} is not a valid HTTP header name")
            if r.well_known_regex == validate_pb2.HTTP_HEADER_VALUE and \
                    not (HEADER_VALUE_STRICT if strict else HEADER_VALUE_LOOSE).match(value):
                self.fail(path, f"{value!r} is not a valid HTTP header value")

    def map_rules(self, entries, r, path):
        if r.ignore_empty and len(entries) == 0:
            return
        if r.HasField("min_pairs") and len(entries) < r.min_pairs:
            self.fail(path, f"needs at least {r.min_pairs} entries")
        if r.HasField("max_pairs") and len(entries) > r.max_pairs:
            self.fail(path, f"allows at most {r.max_pairs} entries")
        if r.HasField("keys") and r.keys.WhichOneof("type") == "string":
            for key in entries:
                self.string_rules(key, r.keys.string, f"{path}[{key}]")

    def duration_rules(self, value, r, path):
        self.bounds(seconds(value), self.limits(r, seconds), path, lambda s: f"{s:g}s")

    def any_rules(self, value, r, path):
        allowed = list(getattr(r, "in"))
        if allowed and value.type_url not in allowed:
            self.fail(path, f"@type must be one of {allowed}")
        if value.type_url in list(r.not_in):
            self.fail(path, f"@type {value.type_url} is not allowed here")


def parse(text, full_name, where, problems):
    msg = message_class(full_name)()
    try:
        json_format.Parse(text, msg, ignore_unknown_fields=False, descriptor_pool=POOL)
    except (json_format.ParseError, ValueError, TypeError) as error:
        problems.append(f"{where}: {error}")
        return None
    return msg


def file_kind(name, text, problems):
    """The message a file holds, judged by its name and shape, or None (a problem is noted)."""
    base = os.path.basename(name)
    if base.startswith("bootstrap"):
        return "envoy.config.bootstrap.v3.Bootstrap"
    try:
        top = json.loads(text)
    except ValueError as error:
        problems.append(f"{name}: not JSON: {error}")
        return None
    if isinstance(top, dict) and "resources" in top:
        return "envoy.service.discovery.v3.DiscoveryResponse"
    if isinstance(top, dict) and isinstance(top.get("@type"), str):
        return top["@type"].split("/")[-1]
    problems.append(f"{name}: neither a bootstrap, a discovery response with resources, nor an object with @type")
    return None


def walk_any(msg, visit):
    """Calls visit on msg and every message inside it, typed_config Anys unpacked."""
    visit(msg)
    for field, value in msg.ListFields():
        if field.message_type is None:
            continue
        if field.is_repeated:
            if field.message_type.GetOptions().map_entry:
                values = [value[k] for k in value] if field.message_type.fields_by_name["value"].message_type else []
            else:
                values = list(value)
        else:
            values = [value]
        for item in values:
            if item.DESCRIPTOR.full_name == "google.protobuf.Any":
                inner = unpack(item)
                if inner is not None:
                    walk_any(inner, visit)
            else:
                walk_any(item, visit)


def check_config(files):
    """Every problem of one config (file name → JSON text), as `FILE: PATH: MESSAGE` lines."""
    problems = []
    parsed = {}
    for name in sorted(files):
        text = files[name]
        kind = file_kind(name, text, problems)
        if kind is None:
            continue
        try:
            message_class(kind)
        except KeyError:
            problems.append(f"{name}: unknown @type {kind}")
            continue
        msg = parse(text, kind, name, problems)
        if msg is None:
            continue
        parsed[name] = msg
        validator = Validator(problems, name)
        if kind == "envoy.service.discovery.v3.DiscoveryResponse":
            expected = RESOURCE_TYPES.get(os.path.basename(name).split(".")[0])
            for i, resource in enumerate(msg.resources):
                inner_name = resource.type_url.split("/")[-1]
                if expected and inner_name != expected:
                    problems.append(f"{name}: resources[{i}]: a {os.path.basename(name)} resource must be "
                                    f"{TYPE_PREFIX}{expected}, not {resource.type_url}")
                inner = unpack(resource)
                if inner is not None:
                    validator.message(inner, f"resources[{i}]")
        else:
            validator.message(msg, "")
    semantics(files, parsed, problems)
    return problems


def resources(parsed, full_name):
    """(file, index, message) for every resource of this type in the config."""
    out = []
    for name, msg in sorted(parsed.items()):
        if msg.DESCRIPTOR.full_name == "envoy.service.discovery.v3.DiscoveryResponse":
            for i, resource in enumerate(msg.resources):
                if resource.type_url.split("/")[-1] == full_name:
                    inner = unpack(resource)
                    if inner is not None:
                        out.append((name, f"resources[{i}]", inner))
        elif msg.DESCRIPTOR.full_name == full_name:
            out.append((name, "", msg))
    return out


def semantics(files, parsed, problems):
    """Checks Envoy makes in code rather than in the definitions."""
    clusters = {}
    for name, where, cluster in resources(parsed, "envoy.config.cluster.v3.Cluster"):
        if cluster.name in clusters:
            problems.append(f"{name}: {where}: duplicate cluster name {cluster.name!r}")
        clusters[cluster.name] = where
    for name, _, bootstrap in resources(parsed, "envoy.config.bootstrap.v3.Bootstrap"):
        for cluster in bootstrap.static_resources.clusters:
            clusters[cluster.name] = "static"
        for source in (bootstrap.dynamic_resources.cds_config, bootstrap.dynamic_resources.lds_config):
            if source.HasField("path_config_source") and len(files) > 1:
                wanted = os.path.basename(source.path_config_source.path)
                if wanted not in {os.path.basename(f) for f in files}:
                    problems.append(f"{name}: dynamic_resources: loads {source.path_config_source.path}, "
                                    f"which is not in this config")
    listeners = set()
    for name, where, listener in resources(parsed, "envoy.config.listener.v3.Listener"):
        if listener.name in listeners:
            problems.append(f"{name}: {where}: duplicate listener name {listener.name!r}")
        listeners.add(listener.name)
    have_cds = any(m.DESCRIPTOR.full_name == "envoy.service.discovery.v3.DiscoveryResponse" and
                   os.path.basename(n).startswith("cds") for n, m in parsed.items())

    def http_connection_manager(name, hcm):
        filters = list(hcm.http_filters)
        if filters:
            for i, f in enumerate(filters):
                is_router = f.typed_config.type_url.endswith(ROUTER)
                if is_router and i != len(filters) - 1:
                    problems.append(f"{name}: http_filters[{i}]: the router is terminal and must be the last HTTP filter")
            if not filters[-1].typed_config.type_url.endswith(ROUTER):
                problems.append(f"{name}: http_filters: the last HTTP filter must be the router "
                                f"({filters[-1].name!r} is not terminal)")
        if hcm.HasField("route_config"):
            route_configuration(name, hcm.route_config)

    def route_configuration(name, rc):
        hosts, domains = set(), {}
        for vh in rc.virtual_hosts:
            if vh.name in hosts:
                problems.append(f"{name}: route_config {rc.name!r}: duplicate virtual host name {vh.name!r}")
            hosts.add(vh.name)
            for d in vh.domains:
                if d.lower() in domains:
                    problems.append(f"{name}: route_config {rc.name!r}: domain {d!r} is in virtual hosts "
                                    f"{domains[d.lower()]!r} and {vh.name!r}; Envoy permits each domain once")
                domains[d.lower()] = vh.name
            for route in vh.routes:
                where = f"virtual host {vh.name!r}, route {route.name or '(unnamed)'!r}"
                if route.HasField("route"):
                    action = route.route
                    named = []
                    if action.HasField("weighted_clusters"):
                        total = sum(c.weight.value for c in action.weighted_clusters.clusters)
                        if total == 0:
                            problems.append(f"{name}: {where}: the weights of weighted_clusters sum to 0; "
                                            f"Envoy requires a total greater than 0")
                        if total > 0xFFFFFFFF:
                            problems.append(f"{name}: {where}: the weights of weighted_clusters exceed 2^32-1")
                        named += [c.name for c in action.weighted_clusters.clusters]
                    if action.cluster:
                        named.append(action.cluster)
                    named += [m.cluster for m in action.request_mirror_policies if m.cluster]
                    if have_cds:
                        for c in named:
                            if c not in clusters:
                                problems.append(f"{name}: {where}: routes to cluster {c!r}, which is not in cds")

    for name, _, listener in resources(parsed, "envoy.config.listener.v3.Listener"):
        def visit(m, name=name):
            if m.DESCRIPTOR.full_name == HCM:
                http_connection_manager(name, m)
        walk_any(listener, visit)
    for name, _, rc in resources(parsed, "envoy.config.route.v3.RouteConfiguration"):
        route_configuration(name, rc)


def check_all(configs):
    return [{"name": c.get("name", ""), "problems": check_config(c.get("files", {}))} for c in configs]


def serve(port_file, parent_pid, idle_exit):
    last = [time.monotonic()]
    one_at_a_time = threading.Lock()  # the checks share one descriptor pool; the GIL serialises them anyway

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            last[0] = time.monotonic()
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                with one_at_a_time:
                    reply, code = {"results": check_all(body.get("configs", []))}, 200
            except Exception as error:  # a bad request is answered, never a crash
                reply, code = {"error": f"{type(error).__name__}: {error}"}, 400
            data = json.dumps(reply).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            last[0] = time.monotonic()

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        # A whole test run posts at once (hundreds of tests in parallel): the default backlog of
        # 5 would reset the connections beyond it.
        request_queue_size = 512
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)

    def watchdog():
        while True:
            time.sleep(0.5)
            gone = False
            if parent_pid:
                try:
                    os.kill(parent_pid, 0)
                except ProcessLookupError:
                    gone = True
            if gone or time.monotonic() - last[0] > idle_exit:
                server.shutdown()
                return

    threading.Thread(target=watchdog, daemon=True).start()
    tmp = f"{port_file}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(tmp, port_file)
    server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*")
    parser.add_argument("--jsonl", action="store_true")
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--port-file")
    parser.add_argument("--parent-pid", type=int, default=0)
    parser.add_argument("--idle-exit", type=float, default=600)
    args = parser.parse_args()
    register_everything()
    if args.serve:
        if not args.port_file:
            parser.error("--serve needs --port-file")
        serve(args.port_file, args.parent_pid, args.idle_exit)
        return 0
    if args.jsonl:
        configs = [json.loads(line) for line in sys.stdin if line.strip()]
    elif args.files:
        groups = {}
        for path in args.files:
            with open(path, encoding="utf-8") as f:
                groups.setdefault(os.path.dirname(path) or ".", {})[path] = f.read()
        configs = [{"name": folder, "files": files} for folder, files in sorted(groups.items())]
    else:
        parser.error("give files, --jsonl or --serve")
    bad = 0
    for result in check_all(configs):
        for problem in result["problems"]:
            print(f"{result['name']}: {problem}" if args.jsonl else problem)
        bad += bool(result["problems"])
    sys.stdout.flush()
    print(f"envoy-check: {len(configs) - bad} of {len(configs)} config(s) valid", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
