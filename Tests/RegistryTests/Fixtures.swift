import Registry
import YAML

/// Services and EndpointSlices as the API returns them, built up in tests.
struct ServiceFixture {
    var name = "payments"
    var namespace = "lucid"
    var uid = "550e8400-e29b-41d4-a716-446655440000"
    var labels: [String: String] = ["mesh.lucid.io/cluster": "tron-payment", "mesh.lucid.io/plane": "wallet"]
    var annotations: [String: String] = [:]
    var ports: [JSON] = [["name": "http", "port": 8080, "targetPort": 8080, "protocol": "TCP"]]
    var type = "ClusterIP"
    var clusterIPs: [String] = ["10.96.0.12"]
    var externalName: String?

    var json: JSON {
        var metadata: JSONObject = ["name": .string(name), "namespace": .string(namespace), "uid": .string(uid)]
        metadata["labels"] = .object(JSONObject(labels.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) }))
        if !annotations.isEmpty {
            metadata["annotations"] = .object(JSONObject(annotations.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) }))
        }
        var spec: JSONObject = ["type": .string(type), "ports": .array(ports)]
        if let first = clusterIPs.first {
            spec["clusterIP"] = .string(first)
            spec["clusterIPs"] = .array(clusterIPs.map(JSON.string))
        }
        if let externalName { spec["externalName"] = .string(externalName) }
        return ["apiVersion": "v1", "kind": "Service", "metadata": .object(metadata), "spec": .object(spec)]
    }
}

/// One endpoint of a slice: `ready` nil leaves the condition out (the API reads it as true).
struct EndpointFixture {
    var address: String
    var ready: Bool? = true
    var terminating: Bool? = nil
    var pod: String? = nil

    var json: JSON {
        var conditions = JSONObject()
        if let ready { conditions["ready"] = .bool(ready) }
        if let terminating { conditions["terminating"] = .bool(terminating) }
        var endpoint: JSONObject = ["addresses": [.string(address)], "conditions": .object(conditions)]
        if let pod { endpoint["targetRef"] = ["kind": "Pod", "name": .string(pod), "uid": .string("uid-" + pod)] }
        return .object(endpoint)
    }
}

func slice(_ name: String, service: String = "payments", namespace: String = "lucid", _ endpoints: [EndpointFixture],
           addressType: String = "IPv4") -> JSON {
    [
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": .string(addressType),
        "metadata": ["name": .string(name), "namespace": .string(namespace), "labels": ["kubernetes.io/service-name": .string(service)]],
        "endpoints": .array(endpoints.map(\.json)),
        "ports": [["name": "http", "port": 8080, "protocol": "TCP"]],
    ]
}

let now = "2026-01-10T19:08:00Z"
let later = "2026-01-10T19:09:30Z"

extension JSONObject {
    init(_ pairs: [(String, JSON)]) {
        self.init()
        for (key, value) in pairs { self[key] = value }
    }
}

func entry(_ service: ServiceFixture = ServiceFixture(), slices: [JSON] = [], options: RegistryOptions? = nil,
           at time: String = now) throws(RegistryError) -> RegistryEntry {
    let resolved: RegistryOptions
    if let options { resolved = options } else { resolved = try RegistryOptions() }
    return try RegistryEntry(service: service.json, endpointSlices: slices, options: resolved, now: time)
}

/// The reason an entry could not be made, or nil if it could.
func refusal(_ service: ServiceFixture, options: RegistryOptions? = nil) -> RegistryError? {
    do {
        _ = try entry(service, options: options)
        return nil
    } catch {
        return error
    }
}
