import KubeClient
import Logging
import YAML

/// Keeps an `ObjectCache` in step with the API: the I/O shell around `ReflectorState`.
public struct Reflector: Sendable {
    public let client: KubeClient
    public let resource: GroupVersionResource
    public let namespace: String?
    public let labelSelector: String?
    public let cache: ObjectCache
    let logger: Logger

    public init(client: KubeClient, resource: GroupVersionResource, namespace: String? = nil, labelSelector: String? = nil,
                cache: ObjectCache, logger: Logger = Logger(label: "lucid.reflector")) {
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.cache = cache
        self.logger = logger
    }

    /// Lists, watches, resumes, relists, backs off — until cancelled. Every change reaches `onChange`.
    public func run(onChange: @Sendable (CacheChange) async -> Void) async {
        var state = ReflectorState()
        var action = state.start()
        while !Task.isCancelled {
            switch action {
            case .list:
                do throws(KubeError) {
                    let list = try await client.listAll(resource, namespace: namespace, options: ListOptions(labelSelector: labelSelector))
                    for change in cache.replace(with: list.items) { await onChange(change) }
                    action = state.next(after: .listed(resourceVersion: list.resourceVersion), random: .random(in: 0..<1))
                } catch {
                    logger.warning("list failed", metadata: ["resource": "\(resource)", "error": "\(error)"])
                    action = state.next(after: .listFailed, random: .random(in: 0..<1))
                }
            case .watch(let from):
                action = await watch(from: from, &state, onChange: onChange)
            case .wait(let delay, let then):
                try? await Task.sleep(for: delay)
                switch then {
                case .list: action = .list
                case .watch(let from): action = .watch(from: from)
                }
            }
        }
    }

    private func watch(from version: String, _ state: inout ReflectorState, onChange: @Sendable (CacheChange) async -> Void) async -> ReflectorState.Action {
        let options = WatchOptions(labelSelector: labelSelector, resourceVersion: version, allowWatchBookmarks: true,
                                   timeoutSeconds: Int.random(in: 300..<600))
        do throws(KubeError) {
            let stream = try await client.watch(resource, namespace: namespace, options: options)
            for try await event in stream {
                switch event.type {
                case .error:
                    if event.status?.code == 410 { return state.next(after: .gone, random: .random(in: 0..<1)) }
                    logger.warning("watch error", metadata: ["resource": "\(resource)", "status": "\(event.status?.message ?? "")"])
                    return state.next(after: .watchFailed, random: .random(in: 0..<1))
                case .bookmark:
                    if let rv = event.resourceVersion { _ = state.next(after: .observed(resourceVersion: rv), random: 0) }
                default:
                    if let change = cache.apply(event.type, event.object) { await onChange(change) }
                    if let rv = event.resourceVersion { _ = state.next(after: .observed(resourceVersion: rv), random: 0) }
                }
            }
            return state.next(after: .watchEnded, random: .random(in: 0..<1))
        } catch {
            if error.isGone { return state.next(after: .gone, random: .random(in: 0..<1)) }
            if !Task.isCancelled { logger.debug("watch dropped", metadata: ["resource": "\(resource)", "error": "\(error)"]) }
            return state.next(after: .watchFailed, random: .random(in: 0..<1))
        }
    }
}
