import Foundation
import HTTP
import LoopbackServer
import YAML

/// Several etcd members forming one cluster on loopback (peers over plain HTTP, clients as the
/// options say), for failover tests. A one-member cluster is what `EtcdServer.start` gives.
public final class EtcdCluster: Sendable {
    public let members: [EtcdServer]
    let workspace: Workspace

    /// Every member's client URL.
    public var clientURLs: [String] { members.map(\.clientURL) }

    init(members: [EtcdServer], workspace: Workspace) {
        self.members = members
        self.workspace = workspace
    }

    /// Starts `size` members at once and waits until every one is healthy; then sets up auth
    /// if the options ask for it. Ports are picked free; if one was taken in the meantime the
    /// whole start is tried again with new ones.
    public static func start(size: Int = 3, _ options: EtcdServer.Options = EtcdServer.Options()) async throws -> EtcdCluster {
        guard size >= 1 else { throw EtcdServer.Failure(description: "a cluster needs at least one member") }
        guard executableExists(options.executable) else {
            throw EtcdServer.Failure(description: "\(options.executable) is not installed: run hack/install-deps.sh (Debian package etcd-server)")
        }
        let workspace = try await Workspace.make(options, members: size)
        var lastFailure: (any Error)?
        for _ in 0..<3 {
            let ports = try (0..<size).map { _ in (try LoopbackPort.unused(), try LoopbackPort.unused()) }
            let names = (0..<size).map { "member\($0)" }
            let initial = zip(names, ports).map { "\($0)=http://127.0.0.1:\($1.1)" }.joined(separator: ",")
            let token = "lucid-" + UUID().uuidString.lowercased()
            let members = zip(names, ports).map { name, port in
                EtcdServer(name: name, clientPort: port.0, peerPort: port.1, initialCluster: initial, clusterToken: token,
                           workspace: workspace, options: options)
            }
            do {
                for member in members { try member.launch() }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for member in members { group.addTask { try await member.waitUntilHealthy() } }
                    try await group.waitForAll()
                }
                let cluster = EtcdCluster(members: members, workspace: workspace)
                if let auth = options.auth { try await cluster.enableAuth(auth) }
                return cluster
            } catch {
                let portTaken = members.contains { $0.failedToBind }
                members.forEach { $0.stop() }
                lastFailure = error
                guard portTaken else { throw error }
            }
        }
        throw lastFailure ?? EtcdServer.Failure(description: "etcd did not start")
    }

    /// Stops every member and removes their data.
    public func stop() {
        members.forEach { $0.stop() }
        try? FileManager.default.removeItem(atPath: workspace.root)
    }

    /// Creates `root` (role root) and the user with read-write access to its prefix, then
    /// enables auth — through the gateway, as `etcdctl user add` / `role grant-permission` /
    /// `auth enable` would.
    func enableAuth(_ auth: EtcdServer.Auth) async throws {
        let gateway = try Gateway(members[0])
        defer { gateway.close() }
        func b64(_ bytes: [UInt8]) -> JSON { .string(Data(bytes).base64EncodedString()) }
        let prefix = Array(auth.prefix.utf8)
        let start = b64(prefix.isEmpty ? [0] : prefix)
        let end = b64(Self.prefixEnd(prefix))
        try await gateway.post("/v3/auth/user/add", ["name": "root", "password": .string(auth.rootPassword)])
        try await gateway.post("/v3/auth/role/add", ["name": "root"])
        try await gateway.post("/v3/auth/user/grant", ["user": "root", "role": "root"])
        try await gateway.post("/v3/auth/user/add", ["name": .string(auth.username), "password": .string(auth.password)])
        try await gateway.post("/v3/auth/role/add", ["name": .string(auth.username)])
        try await gateway.post("/v3/auth/role/grant", ["name": .string(auth.username),
                                                       "perm": ["key": start, "range_end": end, "permType": "READWRITE"]])
        try await gateway.post("/v3/auth/user/grant", ["user": .string(auth.username), "role": .string(auth.username)])
        try await gateway.post("/v3/auth/enable", [:])
    }

    static func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xff {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }

    static func executableExists(_ name: String) -> Bool {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
    }
}

/// Raw JSON posts to one member's gateway, for the fixture's own setup (independent of the
/// client under test).
struct Gateway {
    let member: EtcdServer
    let http: HTTPClient

    init(_ member: EtcdServer) throws {
        self.member = member
        http = try HTTPClient()
    }

    func close() { http.shutdown() }

    @discardableResult
    func post(_ path: String, _ body: JSON, token: String? = nil) async throws -> JSON {
        var request = HTTPRequest(method: .post, url: member.clientURL + path, headers: ["Content-Type": "application/json"],
                                  body: body.serialized(), timeout: .seconds(10))
        if let token { request.headers.add("Authorization", token) }
        request.tls = member.clientTLS
        let response = try await http.execute(request)
        guard response.status == 200 else {
            throw EtcdServer.Failure(description: "etcd refused \(path): HTTP \(response.status) \(response.bodyText)")
        }
        return try JSON.parse(response.body)
    }
}
