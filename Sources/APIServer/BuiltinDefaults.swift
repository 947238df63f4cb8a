import YAML

/// The defaults a real server fills in for the built-in kinds served (k8s.io/kubernetes
/// `pkg/apis/*/v1/defaults.go` and the strategies' PrepareForCreate), so that what `kubectl
/// describe` and clients read back looks like a real cluster's. Pure: allocations (cluster IPs,
/// node ports, uids) come in as arguments.
enum BuiltinDefaults {
    struct Allocations {
        var clusterIP: () -> String
        var nodePort: () -> Int64
    }

    static func apply(_ rt: ResourceType, _ object: JSON, old: JSON?, allocate: Allocations) -> JSON {
        switch (rt.group, rt.resource) {
        case ("", "namespaces"): return namespace(object)
        case ("", "services"): return service(object, old: old, allocate: allocate)
        case ("", "pods"): return pod(object, creating: old == nil)
        case ("batch", "jobs"): return job(object, creating: old == nil)
        case ("discovery.k8s.io", "endpointslices"): return endpointSlice(object)
        case ("networking.k8s.io", "networkpolicies"): return networkPolicy(object)
        case ("rbac.authorization.k8s.io", "rolebindings"), ("rbac.authorization.k8s.io", "clusterrolebindings"): return binding(object)
        default: return object
        }
    }

    static func namespace(_ ns: JSON) -> JSON {
        var o = ns
        if let name = o[path: "metadata", "name"]?.stringValue {
            var labels = o[path: "metadata", "labels"]?.objectValue ?? JSONObject()
            labels["kubernetes.io/metadata.name"] = .string(name)
            o["metadata"]?["labels"] = .object(labels)
        }
        if o[path: "spec", "finalizers"] == nil {
            var spec = o["spec"]?.objectValue ?? JSONObject()
            spec["finalizers"] = ["kubernetes"]
            o["spec"] = .object(spec)
        }
        if o[path: "status", "phase"] == nil {
            var status = o["status"]?.objectValue ?? JSONObject()
            status["phase"] = "Active"
            o["status"] = .object(status)
        }
        return o
    }

    static func service(_ svc: JSON, old: JSON?, allocate: Allocations) -> JSON {
        var o = svc
        var spec = o["spec"]?.objectValue ?? JSONObject()
        let type = spec["type"]?.stringValue ?? "ClusterIP"
        spec["type"] = .string(type)
        if spec["sessionAffinity"] == nil { spec["sessionAffinity"] = "None" }
        if spec["sessionAffinity"]?.stringValue == "ClientIP", spec["sessionAffinityConfig"] == nil {
            spec["sessionAffinityConfig"] = ["clientIP": ["timeoutSeconds": 10800]]
        }
        let oldPorts = old?[path: "spec", "ports"]?.arrayValue ?? []
        spec["ports"] = spec["ports"]?.arrayValue.map { ports in
            .array(ports.map { p in
                var port = p
                if port["protocol"] == nil { port["protocol"] = "TCP" }
                let target = port["targetPort"]
                if target == nil || target == .int(0) || target == .string("") { port["targetPort"] = port["port"] ?? 0 }
                if type == "NodePort" || type == "LoadBalancer", port["nodePort"]?.intValue ?? 0 == 0 {
                    let kept = oldPorts.first { $0["port"] == port["port"] && ($0["protocol"] ?? "TCP") == port["protocol"] }?["nodePort"]
                    port["nodePort"] = kept ?? .int(allocate.nodePort())
                }
                return port
            })
        }
        if type != "ExternalName" {
            if spec["clusterIP"] == nil || spec["clusterIP"] == "" {
                spec["clusterIP"] = old?[path: "spec", "clusterIP"] ?? .string(allocate.clusterIP())
            }
            if spec["clusterIPs"] == nil, let ip = spec["clusterIP"] { spec["clusterIPs"] = [ip] }
            if spec["ipFamilies"] == nil { spec["ipFamilies"] = old?[path: "spec", "ipFamilies"] ?? ["IPv4"] }
            if spec["ipFamilyPolicy"] == nil { spec["ipFamilyPolicy"] = old?[path: "spec", "ipFamilyPolicy"] ?? "SingleStack" }
            if spec["internalTrafficPolicy"] == nil { spec["internalTrafficPolicy"] = "Cluster" }
        }
        if type == "NodePort" || type == "LoadBalancer", spec["externalTrafficPolicy"] == nil { spec["externalTrafficPolicy"] = "Cluster" }
        if type == "LoadBalancer", spec["allocateLoadBalancerNodePorts"] == nil { spec["allocateLoadBalancerNodePorts"] = true }
        o["spec"] = .object(spec)
        if o["status"] == nil { o["status"] = ["loadBalancer": [:]] }
        return o
    }

    static func pod(_ pod: JSON, creating: Bool) -> JSON {
        var o = pod
        o["spec"] = podSpec(o["spec"] ?? [:], admission: true)
        if creating {
            var status = o["status"]?.objectValue ?? JSONObject()
            if status["phase"] == nil { status["phase"] = "Pending" }
            if status["qosClass"] == nil { status["qosClass"] = .string(qosClass(o["spec"] ?? [:])) }
            o["status"] = .object(status)
        }
        return o
    }

    /// SetDefaults_PodSpec and the containers' defaults; `admission` adds what the
    /// ServiceAccount and DefaultTolerationSeconds admission plugins add to Pods.
    static func podSpec(_ input: JSON, admission: Bool) -> JSON {
        var spec = input.objectValue ?? JSONObject()
        let defaults: [(String, JSON)] = [("restartPolicy", "Always"), ("terminationGracePeriodSeconds", 30), ("dnsPolicy", "ClusterFirst"),
                                          ("schedulerName", "default-scheduler"), ("securityContext", [:]), ("enableServiceLinks", true)]
        for (k, v) in defaults where spec[k] == nil { spec[k] = v }
        if admission {
            if spec["serviceAccountName"] == nil { spec["serviceAccountName"] = spec["serviceAccount"] ?? "default" }
            if spec["serviceAccount"] == nil { spec["serviceAccount"] = spec["serviceAccountName"] }
            if spec["preemptionPolicy"] == nil { spec["preemptionPolicy"] = "PreemptLowerPriority" }
            if spec["priority"] == nil { spec["priority"] = 0 }
            var tolerations = spec["tolerations"]?.arrayValue ?? []
            for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] where !tolerations.contains(where: { $0["key"]?.stringValue == key }) {
                tolerations.append(["key": .string(key), "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300])
            }
            spec["tolerations"] = .array(tolerations)
        }
        for field in ["containers", "initContainers"] {
            if let list = spec[field]?.arrayValue { spec[field] = .array(list.map(container)) }
        }
        if let volumes = spec["volumes"]?.arrayValue {
            spec["volumes"] = .array(volumes.map { v in
                var volume = v
                let sources = ["configMap", "secret", "projected", "downwardAPI"]
                for source in sources where volume[source] != nil && volume[source]?["defaultMode"] == nil { volume[source]?["defaultMode"] = 420 }
                let known = volume.objectValue?.keys.filter { $0 != "name" } ?? []
                if known.isEmpty { volume["emptyDir"] = [:] }
                return volume
            })
        }
        return .object(spec)
    }

    static func container(_ c: JSON) -> JSON {
        var o = c
        if o["terminationMessagePath"] == nil { o["terminationMessagePath"] = "/dev/termination-log" }
        if o["terminationMessagePolicy"] == nil { o["terminationMessagePolicy"] = "File" }
        if o["imagePullPolicy"] == nil {
            let image = o["image"]?.stringValue ?? ""
            let last = image.split(separator: "/").last ?? ""
            let untagged = !last.contains(":") && !image.contains("@")
            o["imagePullPolicy"] = untagged || image.hasSuffix(":latest") ? "Always" : "IfNotPresent"
        }
        if o["resources"] == nil { o["resources"] = [:] }
        if let ports = o["ports"]?.arrayValue {
            o["ports"] = .array(ports.map { p in var port = p; if port["protocol"] == nil { port["protocol"] = "TCP" }; return port })
        }
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] where o[probe] != nil {
            for (k, v) in [("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)] as [(String, JSON)]
            where o[probe]?[k] == nil {
                o[probe]?[k] = v
            }
        }
        return o
    }

    static func qosClass(_ spec: JSON) -> String {
        let containers = spec["containers"]?.arrayValue ?? []
        let resources = containers.map { $0["resources"] ?? [:] }
        let any = resources.contains { !($0["requests"]?.objectValue?.isEmpty ?? true) || !($0["limits"]?.objectValue?.isEmpty ?? true) }
        if !any { return "BestEffort" }
        let guaranteed = resources.allSatisfy { r in
            guard let limits = r["limits"]?.objectValue, limits["cpu"] != nil, limits["memory"] != nil else { return false }
            let requests = r["requests"]?.objectValue ?? limits
            return ["cpu", "memory"].allSatisfy { (requests[$0] ?? limits[$0]) == limits[$0] }
        }
        return guaranteed ? "Guaranteed" : "Burstable"
    }

    static func job(_ job: JSON, creating: Bool) -> JSON {
        var o = job
        var spec = o["spec"]?.objectValue ?? JSONObject()
        if spec["completions"] == nil && spec["parallelism"] == nil { spec["completions"] = 1; spec["parallelism"] = 1 }
        if spec["parallelism"] == nil { spec["parallelism"] = 1 }
        if spec["backoffLimit"] == nil { spec["backoffLimit"] = 6 }
        if spec["completionMode"] == nil { spec["completionMode"] = "NonIndexed" }
        if spec["suspend"] == nil { spec["suspend"] = false }
        if spec["manualSelector"] == nil, spec["podReplacementPolicy"] == nil {
            spec["podReplacementPolicy"] = spec["podFailurePolicy"] == nil ? "TerminatingOrFailed" : "Failed"
        }
        var template = spec["template"] ?? [:]
        template["spec"] = podSpec(template["spec"] ?? [:], admission: false)
        if creating, spec["manualSelector"]?.boolValue != true, let uid = o[path: "metadata", "uid"]?.stringValue {
            let name = o[path: "metadata", "name"]?.stringValue ?? ""
            var labels = template[path: "metadata", "labels"]?.objectValue ?? JSONObject()
            for (k, v) in [("batch.kubernetes.io/controller-uid", uid), ("batch.kubernetes.io/job-name", name), ("controller-uid", uid), ("job-name", name)] {
                labels[k] = .string(v)
            }
            var meta = template["metadata"]?.objectValue ?? JSONObject()
            meta["labels"] = .object(labels)
            template["metadata"] = .object(meta)
            if spec["selector"] == nil { spec["selector"] = ["matchLabels": ["batch.kubernetes.io/controller-uid": .string(uid)]] }
        }
        spec["template"] = template
        o["spec"] = .object(spec)
        // SetDefaults_Job: the Job takes its template's labels when it has none of its own.
        if (o[path: "metadata", "labels"]?.objectValue?.isEmpty ?? true), let labels = template[path: "metadata", "labels"] {
            o["metadata"]?["labels"] = labels
        }
        return o
    }

    static func endpointSlice(_ slice: JSON) -> JSON {
        var o = slice
        if let ports = o["ports"]?.arrayValue {
            o["ports"] = .array(ports.map { p in
                var port = p
                if port["name"] == nil { port["name"] = "" }
                if port["protocol"] == nil { port["protocol"] = "TCP" }
                return port
            })
        }
        return o
    }

    static func networkPolicy(_ policy: JSON) -> JSON {
        var o = policy
        var spec = o["spec"]?.objectValue ?? JSONObject()
        if spec["podSelector"] == nil { spec["podSelector"] = [:] }
        func ports(_ rules: JSON?) -> JSON? {
            rules?.arrayValue.map { list in
                .array(list.map { r in
                    var rule = r
                    if let ps = rule["ports"]?.arrayValue {
                        rule["ports"] = .array(ps.map { p in var port = p; if port["protocol"] == nil { port["protocol"] = "TCP" }; return port })
                    }
                    return rule
                })
            }
        }
        if let ingress = ports(spec["ingress"]) { spec["ingress"] = ingress }
        if let egress = ports(spec["egress"]) { spec["egress"] = egress }
        if (spec["policyTypes"]?.arrayValue ?? []).isEmpty {
            var types: [JSON] = ["Ingress"]
            if spec["egress"] != nil { types.append("Egress") }
            spec["policyTypes"] = .array(types)
        }
        o["spec"] = .object(spec)
        return o
    }

    static func binding(_ binding: JSON) -> JSON {
        var o = binding
        if let subjects = o["subjects"]?.arrayValue {
            o["subjects"] = .array(subjects.map { s in
                var subject = s
                // A ServiceAccount's default group is "", which the API omits (omitempty).
                if subject["apiGroup"] == nil, subject["kind"]?.stringValue != "ServiceAccount" {
                    subject["apiGroup"] = "rbac.authorization.k8s.io"
                }
                if subject["apiGroup"] == "" { subject["apiGroup"] = nil }
                return subject
            })
        }
        return o
    }

    /// What the real server refuses in these kinds before anything is stored (the checks
    /// clients hit first; not the whole of its validation).
    static func errors(_ rt: ResourceType, _ object: JSON) -> [(field: String, detail: String, kind: String)] {
        switch (rt.group, rt.resource) {
        case ("batch", "jobs"):
            let policy = object[path: "spec", "template", "spec", "restartPolicy"]?.stringValue
            if policy != "Never" && policy != "OnFailure" {
                return [("spec.template.spec.restartPolicy", "Required value: valid values: \"OnFailure\", \"Never\"", "FieldValueRequired")]
            }
            if (object[path: "spec", "template", "spec", "containers"]?.arrayValue ?? []).isEmpty {
                return [("spec.template.spec.containers", "Required value", "FieldValueRequired")]
            }
        case ("", "pods"):
            if (object[path: "spec", "containers"]?.arrayValue ?? []).isEmpty { return [("spec.containers", "Required value", "FieldValueRequired")] }
        case ("", "services"):
            for (i, p) in (object[path: "spec", "ports"]?.arrayValue ?? []).enumerated() where (p["port"]?.intValue ?? 0) < 1 || (p["port"]?.intValue ?? 0) > 65535 {
                return [("spec.ports[\(i)].port", "Invalid value: \(p["port"]?.intValue ?? 0): must be between 1 and 65535, inclusive", "FieldValueInvalid")]
            }
        default:
            break
        }
        return []
    }
}
