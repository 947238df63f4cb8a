import LucidAPI
import Tron
import YAML

/// One object per session id and namespace, created (never updated) by the payout that takes
/// the session. Creation is atomic at the API server, so of two payouts for one session only
/// one can hold it even when neither has seen the other in its cache yet. The claim has no
/// owner: it outlives its payout, so deleting a finished payout does not make its session
/// payable again (an admin deletes the claim on purpose to allow that).
public enum SessionClaim {
    public enum State: Sendable, Equatable {
        case absent
        case held(payoutName: String, payoutUID: String)
    }

    public static let label = "payments.lucid.io/session-claim"

    /// `payout-session-<sha256(sessionId), 40 hex digits>`: any session id gives a valid name.
    public static func name(sessionId: String) -> String {
        "payout-session-" + sha256(Array(sessionId.utf8)).hex.prefix(40)
    }

    /// The ConfigMap that claims `payout`'s session for it.
    public static func object(for payout: TronPayout) -> JSON {
        [
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": [
                "name": .string(name(sessionId: payout.spec.sessionId)),
                "namespace": .string(payout.metadata.namespace ?? ""),
                "labels": ["app.kubernetes.io/managed-by": "lucid-operator", label: "true"],
            ],
            "data": [
                "sessionId": .string(payout.spec.sessionId),
                "payout": .string(payout.metadata.name ?? ""),
                "payoutUID": .string(payout.metadata.uid ?? ""),
            ],
        ]
    }

    /// Reads a claim ConfigMap (nil: there is none).
    public static func state(of object: JSON?) -> State {
        guard let object, let uid = object[path: "data", "payoutUID"]?.stringValue else { return .absent }
        return .held(payoutName: object[path: "data", "payout"]?.stringValue ?? "", payoutUID: uid)
    }
}
