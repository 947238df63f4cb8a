import ControllerRuntime
import KubeClient
import LucidAPI
import Payouts
import YAML

/// What the payout controller's caches keep: decoded once per change, and only what the payout
/// state machine reads.

/// A TronPayout: identity and the metadata the machine reads (no labels, annotations or owners),
/// the spec decoded once (or why it does not decode), and the status as last written.
public struct CachedPayout: Sendable {
    public var metadata: ObjectMeta
    public var spec: TronPayoutSpec?
    /// Why the spec does not decode, when it does not.
    public var invalid: String?
    public var status: TronPayoutStatus?

    public var ref: ObjectRef { ObjectRef(namespace: metadata.namespace ?? "", name: metadata.name ?? "") }
    public var reference: ObjectReference {
        ObjectReference(apiVersion: TronPayoutKind.apiVersion, kind: TronPayoutKind.kind, namespace: metadata.namespace ?? "",
                        name: metadata.name ?? "", uid: metadata.uid ?? "", resourceVersion: metadata.resourceVersion)
    }
    /// The payout as the machine takes it; nil when the spec does not decode.
    public var payout: TronPayout? { spec.map { TronPayout(metadata: metadata, spec: $0, status: status) } }
    public var hasFinalizer: Bool { metadata.finalizers?.contains(PayoutMachine.finalizer) ?? false }

    public init(_ object: JSON) {
        var meta = ObjectMeta(name: object[path: "metadata", "name"]?.stringValue, namespace: object[path: "metadata", "namespace"]?.stringValue)
        meta.uid = object[path: "metadata", "uid"]?.stringValue
        meta.resourceVersion = object[path: "metadata", "resourceVersion"]?.stringValue
        meta.generation = object[path: "metadata", "generation"]?.intValue
        meta.creationTimestamp = object[path: "metadata", "creationTimestamp"]?.stringValue
        meta.deletionTimestamp = object[path: "metadata", "deletionTimestamp"]?.stringValue
        meta.finalizers = object[path: "metadata", "finalizers"]?.arrayValue?.compactMap(\.stringValue)
        metadata = meta
        do {
            spec = try (object["spec"] ?? .null).decode(TronPayoutSpec.self)
        } catch {
            spec = nil
            invalid = "spec does not decode: \(error)"
        }
        status = try? object["status"].map { try $0.decode(TronPayoutStatus.self) }
    }

    /// The body of a `/status` write, conditional on `resourceVersion`.
    func statusWrite(_ status: TronPayoutStatus, resourceVersion: String?) throws -> JSON {
        var metadata: JSON = ["name": .string(self.metadata.name ?? ""), "namespace": .string(self.metadata.namespace ?? "")]
        if let resourceVersion { metadata["resourceVersion"] = .string(resourceVersion) }
        return ["apiVersion": .string(TronPayoutKind.apiVersion), "kind": .string(TronPayoutKind.kind), "metadata": metadata,
                "status": try JSON.encode(status)]
    }
}

/// A payout Job or its Pod, cut down to what `PayoutJob.observe` reads: owners and terminal
/// conditions of the Job; creation time and the container's terminated state of a Pod.
public struct CachedPayoutObject: Sendable {
    public var ref: ObjectRef
    /// The `payments.lucid.io/payout` label: the payout it runs for.
    public var payout: String?
    /// The Pod's Job (`batch.kubernetes.io/job-name`); nil for a Job.
    public var jobName: String?
    /// The reduced object, in the API's shape.
    public var object: JSON

    public init(job: JSON) {
        ref = ObjectRef(job) ?? ObjectRef(namespace: "", name: "")
        payout = job[path: "metadata", "labels", PayoutJob.payoutLabel]?.stringValue
        jobName = nil
        let conditions = (job[path: "status", "conditions"]?.arrayValue ?? []).map { condition -> JSON in
            var kept: JSON = [:]
            for field in ["type", "status", "reason", "message", "lastTransitionTime"] { kept[field] = condition[field] }
            return kept
        }
        var status: JSON = ["conditions": .array(conditions)]
        status["completionTime"] = job[path: "status", "completionTime"]
        object = ["metadata": Self.identity(job, ["ownerReferences"]), "status": status]
    }

    public init(pod: JSON) {
        ref = ObjectRef(pod) ?? ObjectRef(namespace: "", name: "")
        payout = pod[path: "metadata", "labels", PayoutJob.payoutLabel]?.stringValue
        jobName = pod[path: "metadata", "labels", "batch.kubernetes.io/job-name"]?.stringValue
            ?? pod[path: "metadata", "labels", "job-name"]?.stringValue
        let containers = (pod[path: "status", "containerStatuses"]?.arrayValue ?? []).map { status -> JSON in
            var kept: JSON = ["name": status["name"] ?? .null]
            if let terminated = status[path: "state", "terminated"] { kept["state"] = ["terminated": terminated] }
            return kept
        }
        object = ["metadata": Self.identity(pod, ["creationTimestamp"]), "status": ["containerStatuses": .array(containers)]]
    }

    static func identity(_ object: JSON, _ extra: [String]) -> JSON {
        var metadata: JSON = [:]
        for field in ["name", "namespace", "uid", "resourceVersion"] + extra { metadata[field] = object[path: "metadata", field] }
        return metadata
    }
}

/// A session claim ConfigMap: who holds the session.
public struct CachedClaim: Sendable, Equatable {
    public var ref: ObjectRef
    public var sessionId: String?
    public var state: SessionClaim.State

    public init(_ object: JSON) {
        ref = ObjectRef(object) ?? ObjectRef(namespace: "", name: "")
        sessionId = object[path: "data", "sessionId"]?.stringValue
        state = SessionClaim.state(of: object)
    }
}

extension CachedResource where Kind == TronPayoutApprovalKind {
    /// The approval as the machine takes it; nil when its spec does not decode.
    var approval: TronPayoutApproval? {
        guard let spec else { return nil }
        var meta = ObjectMeta(name: reference.name, namespace: reference.namespace)
        meta.uid = reference.uid
        meta.creationTimestamp = creationTimestamp
        return TronPayoutApproval(metadata: meta, spec: spec)
    }
}
