import Foundation
import HTTP
import YAML

/// Where the API server is and how to talk to it: the result of reading a kubeconfig or the
/// in-cluster service-account environment.
public struct KubeConfig: Sendable {
    public enum Credentials: Sendable, Equatable {
        case none
        case token(String)
        /// Read from this file, and read again whenever it changes (projected service-account
        /// tokens are rotated by the kubelet).
        case tokenFile(String)
        /// From a credential plugin, run again when its credential expires or is refused.
        case exec(ExecConfig)
    }

    /// Base URL, e.g. `https://10.0.0.1:443`, without a trailing slash.
    public var server: String
    public var tls: TLSConfiguration
    public var credentials: Credentials
    /// The namespace of the context (or the pod's own namespace in-cluster); "default" if none.
    public var namespace: String
    /// Name of the context used, when read from a kubeconfig.
    public var context: String?

    public init(server: String, tls: TLSConfiguration = TLSConfiguration(), credentials: Credentials = .none,
                namespace: String = "default", context: String? = nil) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.tls = tls
        self.credentials = credentials
        self.namespace = namespace
        self.context = context
    }

    static func failure(_ message: String) -> KubeError { KubeError(code: .configuration, message: message) }

    /// In-cluster if `KUBERNETES_SERVICE_HOST` is set, else the kubeconfig (see `fromKubeconfig`).
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment,
                            context: String? = nil) throws(KubeError) -> KubeConfig {
        if context == nil, environment["KUBERNETES_SERVICE_HOST"] != nil, environment["KUBECONFIG"] == nil {
            return try inCluster(environment: environment)
        }
        return try fromKubeconfig(environment: environment, context: context)
    }

    /// The files named by `KUBECONFIG` (colon-separated, merged: the first file to define a
    /// cluster, user, context or current-context wins; missing files are skipped), else
    /// `~/.kube/config`. `context` picks a context other than the current one.
    public static func fromKubeconfig(environment: [String: String] = ProcessInfo.processInfo.environment,
                                      context: String? = nil) throws(KubeError) -> KubeConfig {
        var paths: [String]
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            paths = list.split(separator: ":").map(String.init)
        } else {
            let home = environment["HOME"] ?? NSHomeDirectory()
            paths = ["\(home)/.kube/config"]
        }
        var files: [(path: String, text: String)] = []
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            files.append((path, String(decoding: data, as: UTF8.self)))
        }
        guard !files.isEmpty else { throw failure("no kubeconfig found (looked at \(paths.joined(separator: ", ")))") }
        return try merged(files, context: context)
    }

    /// Parses kubeconfig texts (already read) in merge order; paths anchor relative file names.
    public static func merged(_ files: [(path: String, text: String)], context wanted: String? = nil) throws(KubeError) -> KubeConfig {
        var clusters: [String: (JSON, String)] = [:]
        var users: [String: (JSON, String)] = [:]
        var contexts: [String: JSON] = [:]
        var current: String?
        for (path, text) in files {
            let doc: JSON
            do { doc = try YAML.parse(text) } catch { throw failure("\(path): \(error)") }
            let dir = (path as NSString).deletingLastPathComponent
            for entry in doc["clusters"]?.arrayValue ?? [] {
                if let name = entry["name"]?.stringValue, clusters[name] == nil { clusters[name] = (entry["cluster"] ?? [:], dir) }
            }
            for entry in doc["users"]?.arrayValue ?? [] {
                if let name = entry["name"]?.stringValue, users[name] == nil { users[name] = (entry["user"] ?? [:], dir) }
            }
            for entry in doc["contexts"]?.arrayValue ?? [] {
                if let name = entry["name"]?.stringValue, contexts[name] == nil { contexts[name] = entry["context"] ?? [:] }
            }
            if current == nil, let c = doc["current-context"]?.stringValue, !c.isEmpty { current = c }
        }
        guard let contextName = wanted ?? current else { throw failure("the kubeconfig names no current-context; pass a context") }
        guard let ctx = contexts[contextName] else { throw failure("context \"\(contextName)\" is not in the kubeconfig") }
        guard let clusterName = ctx["cluster"]?.stringValue, let (cluster, clusterDir) = clusters[clusterName] else {
            throw failure("context \"\(contextName)\" names cluster \"\(ctx["cluster"]?.stringValue ?? "")\", which is not in the kubeconfig")
        }
        guard let server = cluster["server"]?.stringValue, !server.isEmpty else {
            throw failure("cluster \"\(clusterName)\" has no server")
        }

        var tls = TLSConfiguration()
        tls.insecureSkipVerify = cluster["insecure-skip-tls-verify"]?.boolValue ?? false
        tls.certificateAuthority = try material(cluster, "certificate-authority", dir: clusterDir, what: "cluster \"\(clusterName)\"")

        var credentials = Credentials.none
        if let userName = ctx["user"]?.stringValue, !userName.isEmpty {
            guard let (user, userDir) = users[userName] else {
                throw failure("context \"\(contextName)\" names user \"\(userName)\", which is not in the kubeconfig")
            }
            let what = "user \"\(userName)\""
            tls.clientCertificate = try material(user, "client-certificate", dir: userDir, what: what)
            tls.clientKey = try material(user, "client-key", dir: userDir, what: what)
            if (tls.clientCertificate == nil) != (tls.clientKey == nil) {
                throw failure("\(what) has a client certificate without a key, or a key without a certificate")
            }
            if let token = user["token"]?.stringValue, !token.isEmpty {
                credentials = .token(token)
            } else if let file = user["tokenFile"]?.stringValue, !file.isEmpty {
                credentials = .tokenFile(resolve(file, dir: userDir))
            } else if let exec = user["exec"], exec != .null {
                credentials = .exec(try ExecConfig.parse(
                    exec, dir: userDir, cluster: try execClusterInfo(cluster, server: server, tls: tls, dir: clusterDir),
                    what: what))
            } else if user["auth-provider"] != nil {
                throw failure("\(what) uses an auth-provider plugin (removed from kubectl in 1.26), which this client does not run; use an exec plugin, a token or a client certificate")
            }
        }
        let namespace = ctx["namespace"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        return KubeConfig(server: server, tls: tls, credentials: credentials, namespace: namespace, context: contextName)
    }

    /// `spec.cluster` of an exec plugin's `KUBERNETES_EXEC_INFO`, as client-go fills it in.
    private static func execClusterInfo(_ cluster: JSON, server: String, tls: TLSConfiguration, dir: String) throws(KubeError) -> JSON {
        var info: JSON = ["server": .string(server)]
        if let name = cluster["tls-server-name"]?.stringValue, !name.isEmpty { info["tls-server-name"] = .string(name) }
        if tls.insecureSkipVerify { info["insecure-skip-tls-verify"] = true }
        switch tls.certificateAuthority {
        case .pem(let bytes)?: info["certificate-authority-data"] = .string(Data(bytes).base64EncodedString())
        case .file(let path)?:
            guard let data = FileManager.default.contents(atPath: path) else {
                throw failure("cannot read certificate-authority \(path)")
            }
            info["certificate-authority-data"] = .string(data.base64EncodedString())
        case nil: break
        }
        if let proxy = cluster["proxy-url"]?.stringValue, !proxy.isEmpty { info["proxy-url"] = .string(proxy) }
        if cluster["disable-compression"]?.boolValue == true { info["disable-compression"] = true }
        // The cluster's own settings for the plugin live in an extension of this name.
        for ext in cluster["extensions"]?.arrayValue ?? [] where ext["name"]?.stringValue == "client.authentication.k8s.io/exec" {
            if let config = ext["extension"] { info["config"] = config }
        }
        return info
    }

    private static func material(_ entry: JSON, _ key: String, dir: String, what: String) throws(KubeError) -> TLSMaterial? {
        if let data = entry["\(key)-data"]?.stringValue, !data.isEmpty {
            guard let decoded = Data(base64Encoded: data, options: .ignoreUnknownCharacters) else {
                throw failure("\(what): \(key)-data is not valid base64")
            }
            return .pem([UInt8](decoded))
        }
        if let path = entry[key]?.stringValue, !path.isEmpty { return .file(resolve(path, dir: dir)) }
        return nil
    }

    /// kubectl resolves relative paths in a kubeconfig against the file's own folder.
    private static func resolve(_ path: String, dir: String) -> String {
        path.hasPrefix("/") || dir.isEmpty ? path : "\(dir)/\(path)"
    }

    /// The service-account environment of a pod: `KUBERNETES_SERVICE_HOST/PORT`, the CA file,
    /// the token file (re-read when it changes) and the namespace file.
    public static func inCluster(environment: [String: String] = ProcessInfo.processInfo.environment,
                                 serviceAccountDirectory: String = "/var/run/secrets/kubernetes.io/serviceaccount") throws(KubeError) -> KubeConfig {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty else {
            throw failure("not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")
        }
        let tokenPath = "\(serviceAccountDirectory)/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw failure("service-account token \(tokenPath) is missing or unreadable")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let namespace = (FileManager.default.contents(atPath: "\(serviceAccountDirectory)/namespace"))
            .map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "default"
        return KubeConfig(
            server: "https://\(hostPart):\(port)",
            tls: TLSConfiguration(certificateAuthority: .file("\(serviceAccountDirectory)/ca.crt")),
            credentials: .tokenFile(tokenPath),
            namespace: namespace.isEmpty ? "default" : namespace)
    }
}
