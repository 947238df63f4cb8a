import LucidAPI
import Tron
import YAML

/// The `batch/v1` Job of one payout attempt, and the reading of a finished one. Pure.
///
/// The Job runs `lucid-payout broadcast` once: `restartPolicy: Never`, `backoffLimit: 0` and
/// `podReplacementPolicy: Failed`, so Kubernetes starts no second pod on its own. That is not
/// what makes the payout at-most-once (a pod may still start twice); the fixed txID is.
public enum PayoutJob {
    public static let containerName = "lucid-payout"
    public static let signerMountPath = "/var/run/lucid/signer"
    public static let terminationLogPath = "/dev/termination-log"
    public static let payoutLabel = "payments.lucid.io/payout"
    public static let attemptLabel = "payments.lucid.io/attempt"
    public static let txIDAnnotation = "payments.lucid.io/txid"

    /// `payout-<name>-<attempt>`; a payout name too long for the 63 characters a Job name may
    /// use (it becomes a label value) is cut and given a hash, so names stay unique.
    public static func name(payout: String, attempt: Int) -> String {
        let plain = "payout-\(payout)-\(attempt)"
        guard plain.count > 63 else { return plain }
        let hash = sha256(Array(payout.utf8)).hex.prefix(8)
        let room = 63 - "payout--\(hash)-\(attempt)".count
        var stem = String(payout.prefix(room))
        while let last = stem.last, !(last.isLetter || last.isNumber) { stem.removeLast() }
        return "payout-\(stem)-\(hash)-\(attempt)"
    }

    /// The Job for `attempt` of `payout`.
    public static func build(payout: TronPayout, attempt: PayoutAttempt, settings: JobSettings) -> JSON {
        let name = payout.metadata.name ?? ""
        let labels: JSON = [
            "app.kubernetes.io/managed-by": "lucid-operator",
            "app.kubernetes.io/name": "lucid-payout",
            payoutLabel: .string(name),
            attemptLabel: .string(String(attempt.attempt)),
        ]
        return [
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": [
                "name": .string(attempt.jobName),
                "namespace": .string(payout.metadata.namespace ?? ""),
                "labels": labels,
                "annotations": [txIDAnnotation: .string(attempt.txID)],
                "ownerReferences": [[
                    "apiVersion": .string(TronPayoutKind.apiVersion), "kind": .string(TronPayoutKind.kind), "name": .string(name),
                    "uid": .string(payout.metadata.uid ?? ""), "controller": true, "blockOwnerDeletion": true,
                ]],
            ],
            "spec": [
                "backoffLimit": 0,
                "podReplacementPolicy": "Failed",
                "activeDeadlineSeconds": .int(Int64(settings.activeDeadlineSeconds)),
                "template": [
                    "metadata": ["labels": labels],
                    "spec": podSpec(payout: payout, attempt: attempt, settings: settings),
                ],
            ],
        ]
    }

    static func podSpec(payout: TronPayout, attempt: PayoutAttempt, settings: JobSettings) -> JSON {
        let secret = payout.spec.signer.secretRef
        return [
            "restartPolicy": "Never",
            "automountServiceAccountToken": false,
            "enableServiceLinks": false,
            "securityContext": [
                "runAsNonRoot": true, "runAsUser": .int(settings.runAsUser), "runAsGroup": .int(settings.runAsUser),
                "fsGroup": .int(settings.runAsUser), "seccompProfile": ["type": "RuntimeDefault"],
            ],
            "containers": [[
                "name": .string(containerName),
                "image": .string(settings.image),
                "command": .array(command(payout: payout, attempt: attempt, settings: settings).map { .string($0) }),
                "env": .array(environment(settings)),
                "resources": .object(JSONObject(settings.resources.sorted { $0.key < $1.key }.map { kind, quantities in
                    (kind, JSON.object(JSONObject(quantities.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) })))
                })),
                "securityContext": [
                    "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true,
                    "capabilities": ["drop": ["ALL"]],
                ],
                "terminationMessagePath": .string(terminationLogPath),
                "terminationMessagePolicy": "File",
                "volumeMounts": [["name": "signer", "mountPath": .string(signerMountPath), "readOnly": true]],
            ]],
            "volumes": [[
                "name": "signer",
                "secret": [
                    "secretName": .string(secret.name),
                    "items": [["key": .string(secret.key ?? "key"), "path": "key"]],
                    "defaultMode": 0o440,
                    // The operator cannot read Secrets where signing keys live, so it cannot tell
                    // whether this one exists; the pod does. Optional: a missing Secret (or key)
                    // starts the pod with an empty folder, and lucid-payout reports
                    // `signerMissing` without signing anything, instead of the pod waiting unseen
                    // until the deadline.
                    "optional": true,
                ],
            ]],
        ]
    }

    /// `lucid-payout broadcast ...`: the prepared bytes, what they must pay, where the key is.
    static func command(payout: TronPayout, attempt: PayoutAttempt, settings: JobSettings) -> [String] {
        var args = [
            settings.command, "broadcast",
            "--raw-data-hex", attempt.rawDataHex, "--txid", attempt.txID,
            "--recipient", payout.spec.recipient, "--amount", payout.spec.amount,
            "--currency", payout.spec.currency.rawValue, "--network", payout.spec.network,
            "--key-file", "\(signerMountPath)/key",
            "--timeout", String(settings.tronTimeoutSeconds),
            "--termination-log", terminationLogPath,
        ]
        if let url = settings.tronURLs[payout.spec.network.lowercased()] { args += ["--tron-url", url] }
        return args
    }

    /// The TronGrid API key from the Secret of that name in the payout's namespace. Optional: a
    /// namespace without it runs the Job without a key (TronGrid's anonymous rate), rather than
    /// leaving its pod unable to start until the deadline.
    static func environment(_ settings: JobSettings) -> [JSON] {
        guard let key = settings.apiKeySecret else { return [] }
        return [["name": "TRON_PRO_API_KEY",
                 "valueFrom": ["secretKeyRef": ["name": .string(key.name), "key": .string(key.key ?? "key"), "optional": true]]]]
    }

    // MARK: reading

    /// What the payout needs to know of the Job called after its current attempt: absent,
    /// someone else's, running, or finished with its pod's exit code and `lucid-payout`'s
    /// termination message (kept only when it names `txID`).
    public static func observe(job: JSON?, pods: [JSON], payoutUID: String, txID: String) -> JobObservation {
        guard let job else { return .absent }
        let owner = (job[path: "metadata", "ownerReferences"]?.arrayValue ?? []).first { $0["controller"]?.boolValue == true }
        guard owner?["uid"]?.stringValue == payoutUID else { return .foreign(ownerUID: owner?["uid"]?.stringValue) }
        let conditions = job[path: "status", "conditions"]?.arrayValue ?? []
        func condition(_ type: String) -> JSON? {
            conditions.first { $0["type"]?.stringValue == type && $0["status"]?.stringValue == "True" }
        }
        let complete = condition("Complete"), failed = condition("Failed")
        guard complete != nil || failed != nil else { return .active }

        var result = JobResult(succeeded: complete != nil)
        if let failed {
            result.reason = failed["reason"]?.stringValue
            result.message = failed["message"]?.stringValue
        }
        result.finishedAt = job[path: "status", "completionTime"]?.stringValue ?? failed?["lastTransitionTime"]?.stringValue
        if let terminated = terminatedState(pods) {
            result.exitCode = terminated["exitCode"]?.intValue.map(Int.init)
            result.report = terminated["message"]?.stringValue.flatMap { report($0, txID: txID) }
            if result.finishedAt == nil { result.finishedAt = terminated["finishedAt"]?.stringValue }
        }
        return .finished(result)
    }

    /// The `lucid-payout` container's terminated state, from the Job's most recent pod that has one.
    static func terminatedState(_ pods: [JSON]) -> JSON? {
        let states = pods.compactMap { pod -> (String, JSON)? in
            let statuses = pod[path: "status", "containerStatuses"]?.arrayValue ?? []
            guard let status = statuses.first(where: { $0["name"]?.stringValue == containerName }),
                  let terminated = status[path: "state", "terminated"] else { return nil }
            return (pod[path: "metadata", "creationTimestamp"]?.stringValue ?? "", terminated)
        }
        return states.max { $0.0 < $1.0 }?.1
    }

    static func report(_ message: String, txID: String) -> TerminationReport? {
        guard let value = try? JSON.parse(Array(message.utf8)), let outcome = value["outcome"]?.stringValue,
              ["accepted", "notSent", "maybeSent", TerminationReport.signerMissing].contains(outcome), value["txID"]?.stringValue == txID else { return nil }
        return TerminationReport(outcome: outcome, txID: txID, detail: value["detail"]?.stringValue ?? "")
    }
}

extension JSONObject {
    init(_ pairs: [(String, JSON)]) {
        var object: JSONObject = [:]
        for (key, value) in pairs { object[key] = value }
        self = object
    }
}
