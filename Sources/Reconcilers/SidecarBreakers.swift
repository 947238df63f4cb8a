import ControllerRuntime
import KubeClient
import LucidAPI
import Mesh

/// The CircuitBreakerConfigs' statuses. A breaker is rendered into every caller's sidecar, so
/// its status is no one sidecar's: this controller's key is the protected Service, and its
/// reconcile merges the breaker reports of the callers' renders (`SidecarRenderer.breakerReports`
/// on the same inputs the sidecar controller assembles) into each breaker's status
/// (`StatusReport.circuitBreaker`): Ready with the callers it is applied to and the fields it
/// cannot honour, `Conflict` for the younger of two, `Invalid`, `ServiceNotFound`, `NoCallers`.
///
/// Mappers, exact: a CircuitBreakerConfig, its old and new service; a Service, itself when it
/// has breakers, and when its mesh view changed, the Services with breakers it routes to; a
/// TrafficPolicy, the Services with breakers its source routes to (before and after).
extension SidecarReconciler {
    public func breakerController(workers: Int = 1) -> Controller {
        let controller = Controller(name: "circuit-breaker-status", workers: workers, reads: [services, policies, breakers] + secrets.informers,
                                    logger: logger) { [self] key in
            try await reconcileBreakers(key)
        }
        let (policies, breakers) = (self.policies, self.breakers)
        @Sendable func withBreakers(_ refs: [ObjectRef]) -> [ObjectRef] {
            refs.filter { !breakers.keys(SidecarIndex.service, $0.description).isEmpty }
        }
        /// The Services `source`'s TrafficPolicies route to.
        @Sendable func called(by source: ObjectRef) -> [ObjectRef] {
            policies.byIndex(SidecarIndex.source, source.description).flatMap { p -> [ObjectRef] in
                guard let spec = p.spec else { return [] }
                return ([spec.destination] + spec.rules.compactMap(\.mirror?.service)).compactMap { Self.ref(source.namespace, $0) }
            }
        }
        controller.watches(breakers) { change in change.values.compactMap { Self.ref($0.reference.namespace, $0.spec?.service) } }
        controller.watches(services) { change in
            withBreakers([change.ref] + (change.old?.mesh != change.new?.mesh ? called(by: change.ref) : []))
        }
        controller.watches(policies) { change in
            var refs: [ObjectRef] = []
            for p in change.values {
                guard let spec = p.spec, let source = Self.ref(p.reference.namespace, spec.source) else { continue }
                refs += ([spec.destination] + spec.rules.compactMap(\.mirror?.service)).compactMap { Self.ref(p.reference.namespace, $0) }
                refs += called(by: source)
            }
            return withBreakers(Array(Set(refs)))
        }
        return controller
    }

    func reconcileBreakers(_ key: ObjectRef) async throws -> ReconcileResult {
        let cached = breakers.byIndex(SidecarIndex.service, key.description)
        guard !cached.isEmpty else { return .done }
        let decoded = cached.compactMap { b in b.spec.map { SidecarRenderer.Breaker(name: b.name, creationTimestamp: b.creationTimestamp, spec: $0) } }
        let names = Set(decoded.map(\.name))
        var reports: [String: [PolicyReport]] = [:]
        let callers = Set(policies.byIndex(SidecarIndex.named, key.description).compactMap(\.spec?.source))
        for name in callers.sorted() {
            guard let caller = services.get(ObjectRef(namespace: key.namespace, name: name))?.mesh else { continue }
            let inputs = SidecarAssembly.outboundInputs(for: caller, from: sources, trustDomain: settings.security.trustDomain)
            for (breaker, report) in SidecarRenderer.breakerReports(inputs) where names.contains(breaker) {
                reports[breaker, default: []].append(report)
            }
        }
        let service = services.get(key)?.mesh
        var fresh = true
        for breaker in cached {
            let report = breaker.spec == nil ? StatusReport.invalid(breaker.invalid ?? "the spec does not decode")
                : .circuitBreaker(breaker.name, breakers: decoded, service: service, namespace: key.namespace, callerReports: reports[breaker.name] ?? [])
            fresh = try await writeStatus(breaker, report, Self.circuitBreakers, breakers) && fresh
        }
        return fresh ? .done : .requeueAfter(.milliseconds(50))
    }
}
