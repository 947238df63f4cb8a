"""The official Kubernetes Python client against the embedded API server: what it does, as
JSON lines on stdout for RealClientTests (Python client: `pip install kubernetes`).

Usage: official_client.py KUBECONFIG
"""
import json
import sys

from kubernetes import client, config
from kubernetes.client.rest import ApiException

config.load_kube_config(sys.argv[1])
core = client.CoreV1Api()
events = client.EventsV1Api()
out = {}

core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py")))
out["namespace_phase"] = core.read_namespace("py").status.phase
core.create_namespaced_config_map("py", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cfg"), data={"a": "1"}))
core.create_namespaced_secret("py", client.V1Secret(metadata=client.V1ObjectMeta(name="s"), string_data={"password": "hunter2"}))
out["secret_type"] = core.read_namespaced_secret("s", "py").type
svc = core.create_namespaced_service("py", client.V1Service(
    metadata=client.V1ObjectMeta(name="web"), spec=client.V1ServiceSpec(selector={"app": "web"}, ports=[client.V1ServicePort(port=80)])))
out["service_port"] = {"protocol": svc.spec.ports[0].protocol, "targetPort": svc.spec.ports[0].target_port,
                       "sessionAffinity": svc.spec.session_affinity, "clusterIP": bool(svc.spec.cluster_ip)}

cm = core.read_namespaced_config_map("cfg", "py")
events.create_namespaced_event("py", client.EventsV1Event(
    metadata=client.V1ObjectMeta(name="cfg.1"), event_time="2026-01-02T03:04:05.000000Z", reason="Checked", note="seen by python",
    action="Check", type="Normal", reporting_controller="python", reporting_instance="python-1",
    regarding=client.V1ObjectReference(kind="ConfigMap", name="cfg", namespace="py", uid=cm.metadata.uid, api_version="v1")))
listed = core.list_namespaced_event("py", field_selector="involvedObject.name=cfg")
out["core_events"] = [(e.reason, e.message, e.reporting_component) for e in listed.items]

body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "2"}}
try:
    core.patch_namespaced_config_map("cfg", "py", body, field_manager="python-apply", _content_type="application/apply-patch+yaml")
    out["conflict"] = None
except ApiException as e:
    out["conflict"] = {"status": e.status, "message": json.loads(e.body)["message"]}
core.patch_namespaced_config_map("cfg", "py", body, field_manager="python-apply", force=True, _content_type="application/apply-patch+yaml")
managed = core.read_namespaced_config_map("cfg", "py").metadata.managed_fields
out["managers"] = sorted((m.manager, m.operation) for m in managed)

core.delete_namespace("py")
out["after_delete"] = core.read_namespace("py").status.phase if any(n.metadata.name == "py" for n in core.list_namespace().items) else "gone"
print(json.dumps(out))
