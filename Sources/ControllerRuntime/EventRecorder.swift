import Foundation
import KubeClient
import Logging
import Synchronization
import YAML

/// Records events.k8s.io/v1 Events about objects, bounded against spam: the same reason and
/// note about the same object is written once per `window`, and at most `burst` events per
/// object per window. Failures to record are logged, never thrown: an Event is a courtesy.
public final class EventRecorder: Sendable {
    let client: KubeClient
    let controller: String
    let instance: String
    let window: Duration
    let burst: Int
    let logger: Logger
    private let recent = Mutex<[String: (count: Int, since: ContinuousClock.Instant, notes: Set<String>)]>([:])

    public init(client: KubeClient, controller: String = "lucid-operator", instance: String, window: Duration = .seconds(300),
                burst: Int = 25, logger: Logger = Logger(label: "lucid.events")) {
        self.client = client
        self.controller = controller
        self.instance = instance
        self.window = window
        self.burst = burst
        self.logger = logger
    }

    /// Records an event regarding `object` (an object as read from the API).
    public func record(regarding object: JSON, type: String = "Normal", reason: String, action: String, note: String) async {
        guard let uid = object[path: "metadata", "uid"]?.stringValue, let name = object[path: "metadata", "name"]?.stringValue else { return }
        let now = ContinuousClock.now
        let allowed = recent.withLock { r -> Bool in
            var entry = r[uid] ?? (0, now, [])
            if now - entry.since > window { entry = (0, now, []) }
            let key = "\(reason)\u{0}\(note)"
            guard entry.count < burst, !entry.notes.contains(key) else { return false }
            entry.count += 1
            entry.notes.insert(key)
            r[uid] = entry
            return true
        }
        guard allowed else { return }
        let namespace = object[path: "metadata", "namespace"]?.stringValue ?? "default"
        let event: JSON = [
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": ["generateName": .string("\(name)."), "namespace": .string(namespace)],
            "eventTime": .string(KubeTime.micro()), "reportingController": .string(controller), "reportingInstance": .string(instance),
            "action": .string(action), "reason": .string(reason), "note": .string(String(note.prefix(1024))), "type": .string(type),
            "regarding": ["apiVersion": object["apiVersion"] ?? "", "kind": object["kind"] ?? "", "name": .string(name),
                          "namespace": .string(namespace), "uid": .string(uid),
                          "resourceVersion": object[path: "metadata", "resourceVersion"] ?? ""],
        ]
        do { _ = try await client.create(.events, namespace: namespace, event) } catch {
            logger.debug("event not recorded", metadata: ["regarding": "\(namespace)/\(name)", "reason": "\(reason)", "error": "\(error)"])
        }
    }

}

/// Timestamps in the API's formats, for what the operator writes.
public enum KubeTime {
    /// metav1.Time: RFC 3339, seconds.
    public static func now() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date())
    }

    /// metav1.MicroTime: RFC 3339 with microseconds.
    public static func micro() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date()).replacingOccurrences(of: "Z", with: "000Z")
    }
}
