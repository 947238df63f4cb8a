import StructuralSchema
import YAML

/// Validates any of the Lucid resources in its raw form (as read from the API or a manifest):
/// the rules its CRD states plus the semantic ones, as field errors. An object of another kind
/// gives one error on `kind`.
public enum LucidValidation {
    public static func validate(_ object: JSON) -> [FieldError] {
        let apiVersion = object["apiVersion"]?.stringValue ?? ""
        let kind = object["kind"]?.stringValue ?? ""
        guard let spec = object["spec"] else { return [FieldError(.required, "spec", "Required value")] }
        switch (apiVersion, kind) {
        case (TrafficPolicyKind.apiVersion, TrafficPolicyKind.kind): return TrafficPolicy.validate(specJSON: spec)
        case (SecurityPolicyKind.apiVersion, SecurityPolicyKind.kind): return SecurityPolicy.validate(specJSON: spec)
        case (CircuitBreakerConfigKind.apiVersion, CircuitBreakerConfigKind.kind): return CircuitBreakerConfig.validate(specJSON: spec)
        case (TronPayoutKind.apiVersion, TronPayoutKind.kind): return TronPayout.validate(specJSON: spec)
        case (TronPayoutApprovalKind.apiVersion, TronPayoutApprovalKind.kind): return TronPayoutApproval.validate(specJSON: spec)
        default: return [FieldError(.notSupported, "kind", "Unsupported value: \"\(apiVersion) \(kind)\": not a Lucid resource")]
        }
    }

    /// Whether `object` is one of the Lucid resources.
    public static func isLucidResource(_ object: JSON) -> Bool {
        let key = "\(object["apiVersion"]?.stringValue ?? "") \(object["kind"]?.stringValue ?? "")"
        return CRDs.all.contains { crd in
            let group = crd[path: "spec", "group"]?.stringValue ?? ""
            let kind = crd[path: "spec", "names", "kind"]?.stringValue ?? ""
            return key == "\(group)/v1alpha1 \(kind)"
        }
    }
}
