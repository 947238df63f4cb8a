import KubeClient
import Logging
import ServiceLifecycle
import Synchronization

/// One process's controllers and the caches they share (controller-runtime's Manager, kube-rs's
/// shared reflectors): one informer per watched kind, scope and selector, whichever controllers
/// read it; controllers that start their workers once their informers synced.
///
/// Informers run on every replica, so a standby's caches are warm and a takeover writes nothing
/// that is already converged; controllers run only on the leader when a `LeaderElector` is given.
/// `services(leaderElector:)` lists the long-running pieces for one `ServiceGroup`.
public final class Manager: Sendable {
    struct InformerKey: Hashable {
        var resource: GroupVersionResource
        var namespace: String?
        var labelSelector: String?
        var value: ObjectIdentifier
    }

    public let client: KubeClient
    let logger: Logger
    private let informers = Mutex<[(key: InformerKey, informer: any InformerProtocol)]>([])
    private let controllers = Mutex<[Controller]>([])

    public init(client: KubeClient, logger: Logger = Logger(label: "lucid.manager")) {
        self.client = client
        self.logger = logger
    }

    /// The shared informer for `resource` in `namespace` (nil: all) with `labelSelector`, holding
    /// `Value`s made by `transform`. Asked twice with the same scope and value type, it returns the
    /// same informer (the first call's transform and indexes stand).
    public func informer<Value: Sendable>(_ resource: GroupVersionResource, namespace: String? = nil, labelSelector: String? = nil,
                                          as type: Value.Type = Value.self, indexers: [String: Informer<Value>.IndexFunction] = [:],
                                          transform: @escaping Informer<Value>.Transform) -> Informer<Value> {
        let key = InformerKey(resource: resource, namespace: resource.namespaced ? namespace : nil, labelSelector: labelSelector,
                              value: ObjectIdentifier(Value.self))
        return informers.withLock { list in
            if let existing = list.first(where: { $0.key == key })?.informer as? Informer<Value> { return existing }
            let informer = Informer<Value>(client: client, resource: resource, namespace: key.namespace, labelSelector: labelSelector,
                                           indexers: indexers, logger: logger, transform: transform)
            list.append((key, informer))
            return informer
        }
    }

    /// Adds a controller; it runs with the others (on the leader).
    public func add(_ controller: Controller) {
        controllers.withLock { $0.append(controller) }
    }

    /// Every informer has listed once: what `/readyz` reports.
    public var hasSynced: Bool { informers.withLock { $0.allSatisfy(\.informer.hasSynced) } }

    public var allInformers: [any InformerProtocol] { informers.withLock { $0.map(\.informer) } }
    public var allControllers: [Controller] { controllers.withLock { $0 } }

    /// The long-running pieces in start order: the informers, then the controllers (behind
    /// leader election when `leaderElector` is given). A `ServiceGroup` shuts them down in reverse,
    /// so on SIGTERM the controllers stop (and the lease is released) before the caches.
    /// `onLeading` runs when this replica starts its controllers.
    public func services(leaderElector: LeaderElector?, onLeading: @escaping @Sendable () -> Void = {}) -> [any Service] {
        allInformers.map { $0 as any Service }
            + [HeapTrimmer(controllers: allControllers), Controllers(controllers: allControllers, elector: leaderElector, onLeading: onLeading)]
    }
}

/// The controllers as one service: run at once, or while this replica leads.
struct Controllers: Service {
    let controllers: [Controller]
    let elector: LeaderElector?
    let onLeading: @Sendable () -> Void

    func run() async throws {
        let controllers = self.controllers, onLeading = self.onLeading
        let all: @Sendable () async throws -> Void = {
            onLeading()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for controller in controllers { group.addTask { try await controller.run() } }
                try await group.waitForAll()
            }
        }
        if let elector {
            try await elector.run(lead: all)
        } else {
            try await all()
        }
    }
}
