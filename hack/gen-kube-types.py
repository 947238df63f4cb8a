#!/usr/bin/env python3
"""Generates Sources/APIServer/KubeTypes+Generated.swift: the descriptors of the built-in kinds the
embedded API server serves, read from the Go types of k8s.io/api and k8s.io/apimachinery.

One descriptor per message: its OpenAPI name, its doc, and per field the JSON name, the protobuf
field number, the type, omitempty / pointer / inline, patch strategy and merge key, list type and
keys. The server drives its protobuf decoder, its OpenAPI v3 documents, strategic merge and
managedFields from these tables (see README, "Protobuf").

Usage: hack/gen-kube-types.py API_DIR APIMACHINERY_DIR > Sources/APIServer/KubeTypes+Generated.swift
with checkouts of k8s.io/api and k8s.io/apimachinery at the release served (v0.32.x).
"""
import os
import re
import sys

API, MACHINERY = sys.argv[1], sys.argv[2]

PACKAGES = {
    "k8s.io/api/core/v1": (os.path.join(API, "core/v1"), "io.k8s.api.core.v1"),
    "k8s.io/api/batch/v1": (os.path.join(API, "batch/v1"), "io.k8s.api.batch.v1"),
    "k8s.io/api/coordination/v1": (os.path.join(API, "coordination/v1"), "io.k8s.api.coordination.v1"),
    "k8s.io/api/discovery/v1": (os.path.join(API, "discovery/v1"), "io.k8s.api.discovery.v1"),
    "k8s.io/api/events/v1": (os.path.join(API, "events/v1"), "io.k8s.api.events.v1"),
    "k8s.io/api/networking/v1": (os.path.join(API, "networking/v1"), "io.k8s.api.networking.v1"),
    "k8s.io/api/rbac/v1": (os.path.join(API, "rbac/v1"), "io.k8s.api.rbac.v1"),
    "k8s.io/api/apps/v1": (os.path.join(API, "apps/v1"), "io.k8s.api.apps.v1"),
    "k8s.io/api/policy/v1": (os.path.join(API, "policy/v1"), "io.k8s.api.policy.v1"),
    "k8s.io/api/authentication/v1": (os.path.join(API, "authentication/v1"), "io.k8s.api.authentication.v1"),
    "k8s.io/api/authorization/v1": (os.path.join(API, "authorization/v1"), "io.k8s.api.authorization.v1"),
    "k8s.io/api/admissionregistration/v1": (os.path.join(API, "admissionregistration/v1"), "io.k8s.api.admissionregistration.v1"),
    "k8s.io/apimachinery/pkg/apis/meta/v1": (os.path.join(MACHINERY, "pkg/apis/meta/v1"), "io.k8s.apimachinery.pkg.apis.meta.v1"),
}

# Types with their own wire and JSON forms, handled by name in the decoder.
SPECIAL = {
    "k8s.io/apimachinery/pkg/apis/meta/v1.Time": "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
    "k8s.io/apimachinery/pkg/apis/meta/v1.MicroTime": "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
    "k8s.io/apimachinery/pkg/apis/meta/v1.Duration": "io.k8s.apimachinery.pkg.apis.meta.v1.Duration",
    "k8s.io/apimachinery/pkg/apis/meta/v1.FieldsV1": "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "k8s.io/apimachinery/pkg/util/intstr.IntOrString": "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    "k8s.io/apimachinery/pkg/api/resource.Quantity": "io.k8s.apimachinery.pkg.api.resource.Quantity",
    "k8s.io/apimachinery/pkg/runtime.RawExtension": "io.k8s.apimachinery.pkg.runtime.RawExtension",
}

ROOTS = [
    "k8s.io/api/core/v1.Namespace", "k8s.io/api/core/v1.Service", "k8s.io/api/core/v1.ConfigMap",
    "k8s.io/api/core/v1.Secret", "k8s.io/api/core/v1.Pod", "k8s.io/api/core/v1.Event",
    "k8s.io/api/core/v1.ServiceAccount", "k8s.io/api/batch/v1.Job", "k8s.io/api/coordination/v1.Lease",
    "k8s.io/api/discovery/v1.EndpointSlice", "k8s.io/api/events/v1.Event", "k8s.io/api/networking/v1.NetworkPolicy",
    "k8s.io/api/rbac/v1.Role", "k8s.io/api/rbac/v1.ClusterRole", "k8s.io/api/rbac/v1.RoleBinding",
    "k8s.io/api/rbac/v1.ClusterRoleBinding", "k8s.io/apimachinery/pkg/apis/meta/v1.DeleteOptions",
    "k8s.io/api/apps/v1.Deployment", "k8s.io/api/policy/v1.PodDisruptionBudget",
    "k8s.io/api/authentication/v1.TokenRequest", "k8s.io/api/authentication/v1.TokenReview",
    "k8s.io/api/authentication/v1.SelfSubjectReview",
    "k8s.io/api/authorization/v1.SelfSubjectAccessReview", "k8s.io/api/authorization/v1.SelfSubjectRulesReview",
    "k8s.io/api/authorization/v1.SubjectAccessReview", "k8s.io/api/authorization/v1.LocalSubjectAccessReview",
    "k8s.io/api/admissionregistration/v1.ValidatingAdmissionPolicy",
    "k8s.io/api/admissionregistration/v1.ValidatingAdmissionPolicyBinding",
    "k8s.io/apimachinery/pkg/apis/meta/v1.Status",
]

BASIC = {"string": "string", "bool": "bool", "int32": "int32", "int64": "int64", "float64": "double",
         "int": "int64", "uint32": "int64", "byte": "int32"}

structs = {}   # "pkg.Name" -> (doc, type markers, fields)
aliases = {}   # "pkg.Name" -> go type text, with its package


def parse_file(pkg, path):
    text = open(path).read()
    imports = {}
    block = re.search(r"^import \((.*?)^\)", text, re.M | re.S)
    for m in re.finditer(r'^\s*(\w+)?\s*"([^"]+)"\s*$', block.group(1) if block else "", re.M):
        alias, ipath = m.group(1), m.group(2)
        imports[alias or ipath.rsplit("/", 1)[-1]] = ipath
    lines = text.split("\n")
    i = 0
    comment = []
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if s.startswith("//"):
            comment.append(s[2:].strip() if not s.startswith("// ") else s[3:])
            i += 1
            continue
        m = re.match(r"^type (\w+) struct \{\s*$", line)
        if m:
            name = m.group(1)
            fields = []
            fcomment = []
            i += 1
            while not lines[i].startswith("}"):
                fs = lines[i].strip()
                if fs.startswith("//"):
                    fcomment.append(fs[3:] if fs.startswith("// ") else fs[2:].strip())
                elif fs:
                    fm = re.match(r"^(\w+)\s+([^\s`]+)\s+`([^`]*)`", fs) or re.match(r"^()([\w.*]+)\s+`([^`]*)`", fs)
                    if fm:
                        fields.append((fm.group(1), fm.group(2), fm.group(3), fcomment))
                    fcomment = []
                else:
                    fcomment = []
                i += 1
            structs[f"{pkg}.{name}"] = (comment, fields, imports)
            comment = []
            i += 1
            continue
        m = re.match(r"^type (\w+) (\S.*)$", line)
        if m and not m.group(2).startswith("interface") and not m.group(2).startswith("struct"):
            aliases[f"{pkg}.{m.group(1)}"] = (m.group(2).strip(), imports, pkg)
        comment = []
        i += 1


for pkg, (directory, _) in PACKAGES.items():
    for fn in sorted(os.listdir(directory)):
        if fn.endswith(".go") and not fn.endswith("_test.go") and not fn.startswith("zz_") and "generated" not in fn:
            parse_file(pkg, os.path.join(directory, fn))


def qualify(gotype, imports, pkg):
    if "." in gotype:
        alias, name = gotype.split(".", 1)
        return f"{imports.get(alias, alias)}.{name}"
    return f"{pkg}.{gotype}"


def openapi_name(full):
    if full in SPECIAL:
        return SPECIAL[full]
    pkg, name = full.rsplit(".", 1)
    return f"{PACKAGES[pkg][1]}.{name}"


def resolve(gotype, imports, pkg, pending):
    """A Go type → descriptor type text: [] repeated, {} map of string to, a message name, or basic."""
    if gotype.startswith("*"):
        return resolve(gotype[1:], imports, pkg, pending)
    if gotype == "[]byte":
        return "bytes"
    if gotype.startswith("[]"):
        return "[]" + resolve(gotype[2:], imports, pkg, pending)
    if gotype.startswith("map["):
        value = gotype[gotype.index("]") + 1:]
        return "{}" + resolve(value, imports, pkg, pending)
    if gotype in BASIC:
        return BASIC[gotype]
    full = qualify(gotype, imports, pkg)
    if full in SPECIAL:
        return SPECIAL[full]
    if full == "k8s.io/apimachinery/pkg/types.UID":
        return "string"
    if full in structs:
        pending.append(full)
        return openapi_name(full)
    if full in aliases:
        target, imps, apkg = aliases[full]
        return resolve(target, imps, apkg, pending)
    raise SystemExit(f"unknown type {gotype} ({full})")


def tag(tags, key):
    m = re.search(key + r':"([^"]*)"', tags)
    return m.group(1) if m else None


def doc(lines):
    out = []
    for l in lines:
        if l.startswith("+") or l.startswith("---"):
            continue
        if not l.strip():
            if out:
                break
            continue
        out.append(l.strip())
    text = " ".join(out)
    return text.replace("|", "/").replace("\\", "\\\\")


def markers(lines):
    return [l[1:] for l in lines if l.startswith("+")]


emitted = {}
pending = list(ROOTS)
while pending:
    full = pending.pop(0)
    if full in emitted:
        continue
    comment, fields, imports = structs[full]
    pkg = full.rsplit(".", 1)[0]
    out_fields = []
    for name, gotype, tags, fcomment in fields:
        proto = tag(tags, "protobuf")
        json = tag(tags, "json") or ""
        if proto is None:
            continue  # TypeMeta and other fields with no wire form
        parts = proto.split(",")
        number = parts[1]
        jparts = json.split(",")
        jname = jparts[0]
        flags = []
        if "omitempty" in jparts:
            flags.append("o")
        if "inline" in jparts:
            flags.append("i")
            names = [p for p in parts if p.startswith("name=")]
            base = (name or gotype.lstrip("*").split(".")[-1])
            jname = names[0][5:] if names else base[0].lower() + base[1:]
        if gotype.startswith("*"):
            flags.append("p")
        ps, pk = tag(tags, "patchStrategy"), tag(tags, "patchMergeKey")
        if ps:
            flags.append("ps=" + ps.replace(",", "+"))
        if pk:
            flags.append("pk=" + pk)
        keys = []
        for mk in markers(fcomment):
            if mk.startswith("listType="):
                flags.append("lt=" + mk.split("=", 1)[1])
            elif mk.startswith("listMapKey="):
                keys.append(mk.split("=", 1)[1])
            elif mk.startswith("mapType="):
                flags.append("mt=" + mk.split("=", 1)[1])
            elif mk.startswith("structType="):
                flags.append("st=" + mk.split("=", 1)[1])
        if keys:
            flags.append("lk=" + "+".join(keys))
        typ = resolve(gotype, imports, pkg, pending)
        out_fields.append(f"F {jname} {number} {typ} {','.join(flags) or '-'}|{doc(fcomment)}")
    mflags = [m for m in markers(comment) if m.startswith("structType=")]
    emitted[full] = (f"M {openapi_name(full)} {','.join(mflags) or '-'}|{doc(comment)}", out_fields)

print("// Generated by hack/gen-kube-types.py from k8s.io/api and k8s.io/apimachinery v0.32.9. Do not edit.")
print("// One block per message: `M <OpenAPI name> <flags>|<doc>`, then `F <json name> <protobuf number> <type> <flags>|<doc>`.")
print("")
print("extension KubeTypes {")
print("    static let generatedText = #\"\"\"")
for full in sorted(emitted, key=lambda f: openapi_name(f)):
    head, fs = emitted[full]
    print(head)
    for f in fs:
        print(f)
print("\"\"\"#")
print("}")
