import Foundation
import KubeClient
import Logging
import ServiceLifecycle
import Synchronization
import YAML

/// The object an Event is about (`regarding`) or mentions (`related`).
public struct ObjectReference: Sendable, Equatable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var namespace: String
    public var name: String
    public var uid: String
    public var resourceVersion: String?

    public init(apiVersion: String, kind: String, namespace: String, name: String, uid: String, resourceVersion: String? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.resourceVersion = resourceVersion
    }

    /// The reference to an object as read from the API; nil without a name or uid.
    public init?(_ object: JSON) {
        guard let uid = object[path: "metadata", "uid"]?.stringValue, let name = object[path: "metadata", "name"]?.stringValue else { return nil }
        self.init(apiVersion: object["apiVersion"]?.stringValue ?? "", kind: object["kind"]?.stringValue ?? "",
                  namespace: object[path: "metadata", "namespace"]?.stringValue ?? "default", name: name, uid: uid,
                  resourceVersion: object[path: "metadata", "resourceVersion"]?.stringValue)
    }

    var json: JSON {
        var o: JSON = ["apiVersion": .string(apiVersion), "kind": .string(kind), "name": .string(name), "namespace": .string(namespace), "uid": .string(uid)]
        if let resourceVersion { o["resourceVersion"] = .string(resourceVersion) }
        return o
    }
}

/// Records events.k8s.io/v1 Events about objects, bounded against spam: the same reason and
/// note about the same object is written once per `window`, and at most `burst` events per
/// object per window. What it remembers for that is bounded too (objects not heard of for a
/// window are forgotten; at most `remembered` objects). Failures to record are logged, never
/// thrown: an Event is a courtesy.
///
/// Run as a `Service`, it sends Events from its own task, off the reconcile path (as client-go's
/// broadcaster does): `record` queues (at most `queueLimit` waiting; beyond that the newest are
/// dropped and logged) and returns. Not running, `record` sends before it returns. On graceful
/// shutdown what is queued is still sent.
public final class EventRecorder: Service, Sendable {
    struct Queue {
        var running = false
        var events: [(namespace: String, event: JSON)] = []
        var head = 0
        var waiter: CheckedContinuation<Void, Never>?
        var dropped = 0
        var stopping = false
    }

    struct Recent {
        var count: Int
        var since: ContinuousClock.Instant
        var notes: Set<String>
    }

    let client: KubeClient
    let controller: String
    let instance: String
    let window: Duration
    let burst: Int
    let remembered: Int
    let logger: Logger
    let queueLimit: Int
    private let recent = Mutex<[String: Recent]>([:])
    private let queue = Mutex(Queue())

    public init(client: KubeClient, controller: String = "lucid-operator", instance: String, window: Duration = .seconds(300),
                burst: Int = 25, remembered: Int = 10_000, queueLimit: Int = 4096, logger: Logger = Logger(label: "lucid.events")) {
        self.client = client
        self.queueLimit = queueLimit
        self.controller = controller
        self.instance = instance
        self.window = window
        self.burst = burst
        self.remembered = remembered
        self.logger = logger
    }

    /// Objects it remembers events of (for tests of its bound).
    public var rememberedCount: Int { recent.withLock { $0.count } }

    /// Records an event regarding `object` (an object as read from the API).
    public func record(regarding object: JSON, type: String = "Normal", reason: String, action: String, note: String) async {
        guard let regarding = ObjectReference(object) else { return }
        await record(regarding: regarding, type: type, reason: reason, action: action, note: note)
    }

    /// Records an event regarding `regarding`, optionally naming a `related` object.
    public func record(regarding: ObjectReference, related: ObjectReference? = nil, type: String = "Normal", reason: String,
                       action: String, note: String) async {
        guard admit(regarding.uid, "\(reason)\u{0}\(note)", now: .now) else { return }
        var event: JSON = [
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": ["generateName": .string("\(regarding.name)."), "namespace": .string(regarding.namespace)],
            "eventTime": .string(KubeTime.micro()), "reportingController": .string(controller), "reportingInstance": .string(instance),
            "action": .string(action), "reason": .string(reason), "note": .string(String(note.prefix(1024))), "type": .string(type),
            "regarding": regarding.json,
        ]
        if let related { event["related"] = related.json }
        let namespace = regarding.namespace
        let (queued, wake) = queue.withLock { q -> (Bool, CheckedContinuation<Void, Never>?) in
            guard q.running else { return (false, nil) }
            if q.events.count - q.head >= queueLimit {
                q.dropped += 1
                return (true, nil)
            }
            q.events.append((namespace, event))
            defer { q.waiter = nil }
            return (true, q.waiter)
        }
        wake?.resume()
        if !queued { await send(namespace, event) }
    }

    private func send(_ namespace: String, _ event: JSON) async {
        do { _ = try await client.create(.events, namespace: namespace, event) } catch {
            logger.debug("event not recorded", metadata: ["regarding": "\(namespace)/\(event[path: "regarding", "name"]?.stringValue ?? "")",
                                                          "reason": "\(event["reason"]?.stringValue ?? "")", "error": "\(error)"])
        }
    }

    /// Sends queued Events until graceful shutdown (then what is left) or cancellation.
    public func run() async throws {
        queue.withLock { q in
            q.running = true
            q.stopping = false
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                try? await gracefulShutdown()
                stopTaking()
            }
            while let (namespace, event) = await take() { await send(namespace, event) }
            group.cancelAll()
        }
        let dropped = queue.withLock { q in
            q.running = false
            return q.dropped
        }
        if dropped > 0 { logger.warning("events dropped: the queue was full", metadata: ["dropped": "\(dropped)"]) }
    }

    private func stopTaking() {
        let waiter = queue.withLock { q in
            q.stopping = true
            defer { q.waiter = nil }
            return q.waiter
        }
        waiter?.resume()
    }

    /// The next queued Event; nil once stopping (or cancelled) and nothing is left.
    private func take() async -> (String, JSON)? {
        while true {
            let (next, stop) = queue.withLock { q -> ((String, JSON)?, Bool) in
                guard q.head < q.events.count else {
                    // Stopping with nothing left: from here on `record` sends by itself.
                    if q.stopping || Task.isCancelled { q.running = false }
                    return (nil, q.stopping)
                }
                let item = q.events[q.head]
                q.head += 1
                if q.head == q.events.count {
                    q.events.removeAll(keepingCapacity: true)
                    q.head = 0
                }
                return ((item.namespace, item.event), false)
            }
            if let next { return next }
            if stop || Task.isCancelled { return nil }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = queue.withLock { q -> Bool in
                        if q.head < q.events.count || q.stopping { return true }
                        q.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: { [self] in
                stopTaking()
            }
        }
    }

    /// Whether an event with `key` about `uid` may be written now; remembers it if so.
    func admit(_ uid: String, _ key: String, now: ContinuousClock.Instant) -> Bool {
        recent.withLock { r in
            var entry = r[uid] ?? Recent(count: 0, since: now, notes: [])
            if now - entry.since > window { entry = Recent(count: 0, since: now, notes: []) }
            guard entry.count < burst, !entry.notes.contains(key) else { return false }
            entry.count += 1
            entry.notes.insert(key)
            r[uid] = entry
            if r.count > remembered { forget(&r, now: now) }
            return true
        }
    }

    /// Drops what no longer limits anything (older than the window), then, if still too many,
    /// the oldest half.
    private func forget(_ r: inout [String: Recent], now: ContinuousClock.Instant) {
        r = r.filter { now - $0.value.since <= window }
        guard r.count > remembered else { return }
        let cut = r.values.map(\.since).sorted()[r.count / 2]
        r = r.filter { $0.value.since > cut }
    }
}

/// Timestamps in the API's formats, for what the operator writes (formatted by hand: a
/// DateFormatter per call costs more than the rest of a status write).
public enum KubeTime {
    /// metav1.Time: RFC 3339, seconds, UTC.
    public static func now() -> String { format(Date(), fraction: false) }

    /// metav1.MicroTime: RFC 3339 with microseconds, UTC.
    public static func micro() -> String { format(Date(), fraction: true) }

    static func format(_ date: Date, fraction: Bool) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = time_t(interval.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        var text = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
        if fraction {
            let micros = String(min(999_999, Int((interval - interval.rounded(.down)) * 1_000_000)))
            text += "." + String(repeating: "0", count: 6 - micros.count) + micros
        }
        return text + "Z"
    }
}
