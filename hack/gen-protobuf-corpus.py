#!/usr/bin/env python3
"""Writes protobuf bodies for the built-in kinds kubectl never sends as protobuf (it creates
them from manifests, in JSON), encoded by protoc's own code from k8s.io/api's generated.proto:
Pod, Event (core and events.k8s.io), Lease, EndpointSlice, NetworkPolicy, DeleteOptions.

Each object is written twice into Tests/APIServerTests/Corpus: NAME.json (the Kubernetes JSON
form) and NAME.pb (`k8s\\0` + runtime.Unknown around the message protoc encoded from the same
values), so the server's table-driven decoder is checked against an independent encoder.

Usage (once; the output is committed):
  pip install grpcio-tools
  python3 -m grpc_tools.protoc -I PROTO_ROOT --python_out=OUT k8s.io/api/core/v1/generated.proto ... (see README)
  PYTHONPATH=OUT hack/gen-protobuf-corpus.py Tests/APIServerTests/Corpus
where PROTO_ROOT holds k8s.io/api and k8s.io/apimachinery at v0.32.x.
"""
import calendar
import json
import os
import sys
import time

from google.protobuf import json_format

from k8s.io.api.coordination.v1 import generated_pb2 as coordination
from k8s.io.api.core.v1 import generated_pb2 as core
from k8s.io.api.discovery.v1 import generated_pb2 as discovery
from k8s.io.api.events.v1 import generated_pb2 as events
from k8s.io.api.networking.v1 import generated_pb2 as networking
from k8s.io.apimachinery.pkg.apis.meta.v1 import generated_pb2 as meta
from k8s.io.apimachinery.pkg.runtime import generated_pb2 as runtime

OUT = sys.argv[1]
INLINE = {"Volume": "volumeSource", "Probe": "handler", "EphemeralContainer": "ephemeralContainerCommon"}


def seconds(text):
    base = text.split(".")[0].rstrip("Z")
    s = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    nanos = int(text.split(".")[1].rstrip("Z").ljust(9, "0")) if "." in text else 0
    return s, nanos


def to_proto(value, descriptor):
    """The Kubernetes JSON form → the dict json_format expects for this message."""
    name = descriptor.name
    if name in ("Time", "MicroTime"):
        s, n = seconds(value)
        return {"seconds": str(s), "nanos": n}
    if name == "IntOrString":
        return {"type": "0", "intVal": value} if isinstance(value, int) else {"type": "1", "strVal": value}
    if name == "Quantity":
        return {"string": value}
    out = {}
    fields = {f.json_name: f for f in descriptor.fields}
    inline = INLINE.get(name)
    rest = dict(value)
    if inline:
        inner = fields[inline].message_type
        members = {k: v for k, v in rest.items() if k in {f.json_name for f in inner.fields}}
        out[inline] = to_proto(members, inner)
        rest = {k: v for k, v in rest.items() if k not in members}
    embedded = {}
    for key in list(rest):
        if key in fields:
            continue
        # Go's inline embedding (LocalObjectReference in ConfigMapVolumeSource, ...): the member
        # belongs to a message field the JSON does not name.
        holder = next(f for f in descriptor.fields if f.message_type is not None and f.json_name not in value
                      and key in {g.json_name for g in f.message_type.fields})
        embedded.setdefault(holder.json_name, {})[key] = rest.pop(key)
    for holder, members in embedded.items():
        out[holder] = to_proto(members, fields[holder].message_type)
    for key, v in rest.items():
        f = fields[key]
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            vf = f.message_type.fields_by_name["value"]
            out[key] = {k: (to_proto(x, vf.message_type) if vf.message_type else x) for k, x in v.items()}
        elif f.message_type is not None:
            out[key] = [to_proto(x, f.message_type) for x in v] if f.is_repeated else to_proto(v, f.message_type)
        else:
            out[key] = v
    return out


def write(name, api_version, kind, message_class, obj):
    message = json_format.ParseDict(to_proto({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}, message_class.DESCRIPTOR),
                                    message_class())
    unknown = runtime.Unknown(typeMeta=runtime.TypeMeta(apiVersion=api_version, kind=kind), raw=message.SerializeToString(),
                              contentEncoding="", contentType="")
    with open(os.path.join(OUT, name + ".pb"), "wb") as f:
        f.write(b"k8s\x00" + unknown.SerializeToString())
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(dict({"kind": kind, "apiVersion": api_version}, **obj), f, indent=2)
        f.write("\n")


when = "2026-01-02T03:04:05Z"
micro = "2026-01-02T03:04:05.123456Z"
meta_ns = lambda n, **extra: dict({"name": n, "namespace": "corpus"}, **extra)

write("pods", "v1", "Pod", core.Pod, {
    "metadata": meta_ns("worker", labels={"app": "worker"}, annotations={"note": "corpus"}),
    "spec": {
        "containers": [{
            "name": "app", "image": "nginx:1.27", "args": ["-g", "daemon off;"],
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
            "env": [{"name": "MODE", "value": "fast"}, {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "250m"}},
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5},
            "livenessProbe": {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 3},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/app", "readOnly": True}],
            "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": 1000},
        }],
        "volumes": [{"name": "config", "configMap": {"name": "settings", "defaultMode": 420}}, {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 0, "automountServiceAccountToken": False,
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "corpus", "effect": "NoSchedule", "tolerationSeconds": 60}],
    },
})
write("events", "v1", "Event", core.Event, {
    "metadata": meta_ns("web.1"),
    "involvedObject": {"kind": "Service", "namespace": "corpus", "name": "web", "uid": "0b0d5f0e-1111-2222-3333-444455556666", "apiVersion": "v1"},
    "reason": "SidecarWritten", "message": "wrote web-sidecar", "source": {"component": "lucid-operator"},
    "firstTimestamp": when, "lastTimestamp": when, "count": 2, "type": "Normal", "eventTime": micro,
    "reportingComponent": "lucid-operator", "reportingInstance": "lucid-operator-0",
})
write("events.events.k8s.io", "events.k8s.io/v1", "Event", events.Event, {
    "metadata": meta_ns("web.2"),
    "eventTime": micro, "series": {"count": 3, "lastObservedTime": micro},
    "reportingController": "lucid-operator", "reportingInstance": "lucid-operator-0", "action": "Write", "reason": "SidecarWritten",
    "regarding": {"kind": "Service", "namespace": "corpus", "name": "web", "uid": "0b0d5f0e-1111-2222-3333-444455556666"},
    "note": "wrote web-sidecar", "type": "Normal",
})
write("leases", "coordination.k8s.io/v1", "Lease", coordination.Lease, {
    "metadata": meta_ns("lucid-operator-leader"),
    "spec": {"holderIdentity": "lucid-operator-0", "leaseDurationSeconds": 15, "acquireTime": micro, "renewTime": micro, "leaseTransitions": 0},
})
write("endpointslices", "discovery.k8s.io/v1", "EndpointSlice", discovery.EndpointSlice, {
    "metadata": meta_ns("web-abc12", labels={"kubernetes.io/service-name": "web"}),
    "addressType": "IPv4",
    "endpoints": [{"addresses": ["10.0.0.7"], "conditions": {"ready": True, "serving": True, "terminating": False}, "nodeName": "node-a",
                   "targetRef": {"kind": "Pod", "namespace": "corpus", "name": "worker"}, "zone": "z1"},
                  {"addresses": ["10.0.0.8"], "conditions": {"ready": False}}],
    "ports": [{"name": "http", "protocol": "TCP", "port": 8080, "appProtocol": "http"}],
})
write("networkpolicies", "networking.k8s.io/v1", "NetworkPolicy", networking.NetworkPolicy, {
    "metadata": meta_ns("isolate-wallet"),
    "spec": {
        "podSelector": {"matchLabels": {"mesh.lucid.io/plane": "wallet"}},
        "ingress": [{"from": [{"podSelector": {"matchExpressions": [{"key": "mesh.lucid.io/plane", "operator": "In", "values": ["wallet", "ops"]}]}},
                              {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                     "ports": [{"protocol": "TCP", "port": 8443}, {"port": "metrics"}]}],
        "egress": [{"to": [{"namespaceSelector": {}}]}],
        "policyTypes": ["Ingress", "Egress"],
    },
})
write("deleteoptions", "v1", "DeleteOptions", meta.DeleteOptions, {
    "gracePeriodSeconds": 0, "preconditions": {"uid": "0b0d5f0e-1111-2222-3333-444455556666", "resourceVersion": "42"},
    "propagationPolicy": "Foreground", "dryRun": ["All"],
})
