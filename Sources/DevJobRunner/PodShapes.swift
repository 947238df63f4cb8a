import Foundation
import KubeClient
import YAML

/// A container feature the dev runner does not provide.
struct Unsupported: Error, CustomStringConvertible {
    let description: String
}

/// How one container is started here: the arguments (paths rewritten), the environment, and
/// where the Secrets and the termination log went.
struct Launch {
    var arguments: [String]
    var environment: [String: String]
    var terminationLog: String
    var secretsFolder: String
}

extension DevJobRunner {
    /// Writes the container's Secret volumes under `folder`, resolves its env, and rewrites the
    /// command for this machine.
    func prepareLaunch(_ job: JSON, folder: String) async throws -> Launch {
        let namespace = Self.key(job).namespace
        let podSpec = job[path: "spec", "template", "spec"] ?? [:]
        let containers = podSpec["containers"]?.arrayValue ?? []
        guard containers.count == 1, let container = containers.first else {
            throw Unsupported(description: "the dev job runner runs Jobs of exactly one container, not \(containers.count)")
        }
        let command = (container["command"]?.arrayValue ?? []).compactMap(\.stringValue)
            + (container["args"]?.arrayValue ?? []).compactMap(\.stringValue)
        guard let program = command.first, (program as NSString).lastPathComponent == "lucid-payout" else {
            throw Unsupported(description: "the dev job runner only runs lucid-payout, not \(command.first ?? "an empty command")")
        }
        let secrets = "\(folder)/volumes"
        try FileManager.default.createDirectory(atPath: secrets, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])

        // Volumes: only Secrets, written as the kubelet would (items → paths, else every key).
        var mounts: [(from: String, to: String)] = []
        let volumes = podSpec["volumes"]?.arrayValue ?? []
        for mount in container["volumeMounts"]?.arrayValue ?? [] {
            guard let name = mount["name"]?.stringValue, let path = mount["mountPath"]?.stringValue,
                  let volume = volumes.first(where: { $0["name"]?.stringValue == name }) else { continue }
            guard let secretName = volume[path: "secret", "secretName"]?.stringValue else {
                throw Unsupported(description: "volume \(name): the dev job runner mounts only Secret volumes")
            }
            let local = "\(secrets)/\(name)"
            try FileManager.default.createDirectory(atPath: local, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            // An optional Secret that is missing, or lacks a listed key, leaves those files out (as the kubelet does).
            let optional = volume[path: "secret", "optional"]?.boolValue ?? false
            let data: [String: [UInt8]]
            do { data = try await secretData(secretName, namespace: namespace) } catch {
                guard let error = error as? KubeError, error.isNotFound, optional else { throw error }
                data = [:]
            }
            let items = volume[path: "secret", "items"]?.arrayValue?.compactMap { item -> (String, String)? in
                guard let key = item["key"]?.stringValue, let path = item["path"]?.stringValue else { return nil }
                return (key, path)
            } ?? data.keys.sorted().map { ($0, $0) }
            for (key, path) in items {
                guard let bytes = data[key] else {
                    if optional { continue }
                    throw Unsupported(description: "couldn't find key \(key) in Secret \(namespace)/\(secretName)")
                }
                let file = "\(local)/\(path)"
                try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                guard FileManager.default.createFile(atPath: file, contents: Data(bytes), attributes: [.posixPermissions: 0o400]) else {
                    throw Unsupported(description: "cannot write \(file)")
                }
            }
            mounts.append((path, local))
        }

        let terminationPath = container["terminationMessagePath"]?.stringValue ?? "/dev/termination-log"
        let terminationLog = "\(folder)/termination-log"
        _ = FileManager.default.createFile(atPath: terminationLog, contents: Data())
        func rewrite(_ argument: String) -> String {
            if argument == terminationPath { return terminationLog }
            for (from, to) in mounts where argument == from || argument.hasPrefix(from + "/") {
                return to + argument.dropFirst(from.count)
            }
            return argument
        }

        var environment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": folder]
        for entry in container["env"]?.arrayValue ?? [] {
            guard let name = entry["name"]?.stringValue else { continue }
            if let value = entry["value"]?.stringValue {
                environment[name] = value
            } else if let ref = entry[path: "valueFrom", "secretKeyRef"], let secret = ref["name"]?.stringValue, let key = ref["key"]?.stringValue {
                let optional = ref["optional"]?.boolValue ?? false
                let data: [String: [UInt8]]
                do { data = try await secretData(secret, namespace: namespace) } catch {
                    if let error = error as? KubeError, error.isNotFound, optional { continue }
                    throw error
                }
                guard let value = data[key] else {
                    if optional { continue }
                    throw Unsupported(description: "env \(name): couldn't find key \(key) in Secret \(namespace)/\(secret)")
                }
                environment[name] = String(decoding: value, as: UTF8.self)
            } else {
                throw Unsupported(description: "env \(name): the dev job runner supports value and secretKeyRef only")
            }
        }
        return Launch(arguments: command.dropFirst().map(rewrite), environment: environment, terminationLog: terminationLog,
                      secretsFolder: secrets)
    }

    /// A Secret's data, decoded (the runner plays the kubelet here; the operator never does this).
    private func secretData(_ name: String, namespace: String) async throws -> [String: [UInt8]] {
        let secret = try await client.get(.secrets, namespace: namespace, name: name)
        var data: [String: [UInt8]] = [:]
        for (key, value) in secret["data"]?.objectValue ?? [:] {
            if let text = value.stringValue, let bytes = Data(base64Encoded: text) { data[key] = [UInt8](bytes) }
        }
        for (key, value) in secret["stringData"]?.objectValue ?? [:] { data[key] = Array((value.stringValue ?? "").utf8) }
        return data
    }

    /// The Pod the Job controller would create for `job`.
    static func pod(for job: JSON) -> JSON {
        let name = job[path: "metadata", "name"]?.stringValue ?? ""
        let uid = job[path: "metadata", "uid"]?.stringValue ?? ""
        var labels = job[path: "spec", "template", "metadata", "labels"]?.objectValue ?? [:]
        labels["job-name"] = .string(name)
        labels["batch.kubernetes.io/job-name"] = .string(name)
        labels["controller-uid"] = .string(uid)
        labels["batch.kubernetes.io/controller-uid"] = .string(uid)
        var spec = job[path: "spec", "template", "spec"] ?? [:]
        spec["nodeName"] = "lucid-dev-job-runner"
        let suffix = String((0..<5).map { _ in "bcdfghjklmnpqrstvwxz2456789".randomElement()! })
        return [
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": [
                "name": .string("\(name)-\(suffix)"),
                "namespace": job[path: "metadata", "namespace"] ?? "",
                "labels": .object(labels),
                "ownerReferences": [[
                    "apiVersion": "batch/v1", "kind": "Job", "name": .string(name), "uid": .string(uid),
                    "controller": true, "blockOwnerDeletion": true,
                ]],
            ],
            "spec": spec,
            "status": ["phase": "Pending"],
        ]
    }

    /// The pod's status around one container state; `reason` is the pod's own (DeadlineExceeded, ...).
    static func podStatus(_ pod: JSON, _ state: JSON, reason: (String, String)? = nil) -> JSON {
        let container = pod[path: "spec", "containers"]?[0]
        let terminated = state["terminated"]
        let phase: String = terminated.map { $0["exitCode"]?.intValue == 0 ? "Succeeded" : "Failed" } ?? "Running"
        var status: JSON = [
            "phase": .string(phase),
            "startTime": pod[path: "status", "startTime"] ?? .string(now()),
            "hostIP": "127.0.0.1",
            "containerStatuses": [[
                "name": container?["name"] ?? "lucid-payout",
                "image": container?["image"] ?? "",
                "imageID": "",
                "ready": .bool(terminated == nil),
                "started": .bool(terminated == nil),
                "restartCount": 0,
                "state": state,
            ]],
        ]
        if let (reason, message) = reason {
            status["reason"] = .string(reason)
            status["message"] = .string(message)
        }
        return status
    }

    static func podRunning(startedAt: String) -> JSON { ["running": ["startedAt": .string(startedAt)]] }

    static func podTerminated(exitCode: Int, reason: String, message: String?, startedAt: String) -> JSON {
        var terminated: JSON = ["exitCode": .int(Int64(exitCode)), "reason": .string(reason), "startedAt": .string(startedAt),
                                "finishedAt": .string(now())]
        if let message, !message.isEmpty { terminated["message"] = .string(message) }
        return ["terminated": terminated]
    }

    /// The termination-log file, as the kubelet reads it: at most 4096 bytes.
    static func terminationMessage(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return nil }
        return String(decoding: data.prefix(4096), as: UTF8.self)
    }

    /// Now, in RFC 3339 (seconds), as the API writes times.
    static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date())
    }
}
