import ArgumentParser
import ControllerRuntime
import EtcdClient
import EtcdServer
import Foundation
import HTTP
import Logging
import Reconcilers
import Registry
import ServiceLifecycle

/// The service registry's flags, shared by `run` and `dev`.
struct RegistryFlags: ParsableArguments {
    @Option(help: "etcd client URLs, comma-separated (http:// or https://). Without it the registry controller is off (dev starts an etcd of its own).")
    var etcdEndpoints: String?
    @Option(help: "CA certificate (PEM file) to verify etcd's certificate with.") var etcdCa: String?
    @Option(help: "Client certificate (PEM file) to present to etcd; needs --etcd-key.") var etcdCert: String?
    @Option(help: "The client certificate's key (PEM file).") var etcdKey: String?
    @Option(help: "etcd user (auth enabled); needs --etcd-password-file.") var etcdUsername: String?
    @Option(help: "File holding the etcd user's password (one line).") var etcdPasswordFile: String?
    @Option(help: "Key prefix of the registry entries (<prefix><namespace>/<service>); the operator owns every key under it.")
    var registryPrefix = "/lucid/registry/"
    @Option(help: "Also write SkyDNS records under /skydns for CoreDNS's etcd plugin, so <service>.<namespace>.<domain> resolves (A and SRV).")
    var dnsDomain: String?
    @Option(help: "The cluster's DNS domain: endpoint hosts are <service>.<namespace>.svc.<domain>.") var clusterDomain = "cluster.local"
    @Option(help: "Seconds between registry resyncs (keys matching no Service removed, Services without an entry planned again).")
    var registryResyncSeconds = 300

    /// Flags that only make sense with an etcd to talk to.
    private var connectionFlags: [String] {
        [("--etcd-ca", etcdCa), ("--etcd-cert", etcdCert), ("--etcd-key", etcdKey), ("--etcd-username", etcdUsername),
         ("--etcd-password-file", etcdPasswordFile)].compactMap { $0.1 == nil ? nil : $0.0 }
    }

    func validate() throws {
        if etcdEndpoints == nil, let flag = connectionFlags.first {
            throw ValidationError("\(flag) needs --etcd-endpoints")
        }
        if (etcdCert == nil) != (etcdKey == nil) { throw ValidationError("--etcd-cert and --etcd-key go together") }
        if (etcdUsername == nil) != (etcdPasswordFile == nil) { throw ValidationError("--etcd-username and --etcd-password-file go together") }
        guard registryResyncSeconds > 0 else { throw ValidationError("--registry-resync-seconds must be positive") }
        _ = try options()
    }

    /// Where entries go, from the flags.
    func options() throws -> RegistryOptions {
        do throws(RegistryError) {
            var dns: DNSOptions?
            if let dnsDomain { dns = try DNSOptions(domain: dnsDomain) }
            return try RegistryOptions(prefix: registryPrefix, clusterDomain: clusterDomain, dns: dns)
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// The registry's settings, or nil when it is off (no `--etcd-endpoints`). Reads the
    /// password file; certificate files are read by libcurl at each connection.
    func settings() throws -> RegistrySettings? {
        guard let etcdEndpoints else { return nil }
        var tls: TLSConfiguration?
        if etcdCa != nil || etcdCert != nil {
            tls = TLSConfiguration(certificateAuthority: etcdCa.map { .file($0) }, clientCertificate: etcdCert.map { .file($0) },
                                   clientKey: etcdKey.map { .file($0) })
        }
        for file in [etcdCa, etcdCert, etcdKey].compactMap({ $0 }) where !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("cannot read \(file)")
        }
        var credentials: EtcdConfiguration.Credentials?
        if let etcdUsername, let etcdPasswordFile {
            guard let text = try? String(contentsOfFile: etcdPasswordFile, encoding: .utf8) else {
                throw ValidationError("cannot read the etcd password file \(etcdPasswordFile)")
            }
            let password = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
            guard !password.isEmpty else { throw ValidationError("the etcd password file \(etcdPasswordFile) is empty") }
            credentials = EtcdConfiguration.Credentials(username: etcdUsername, password: password)
        }
        let etcd = EtcdConfiguration(endpointList: etcdEndpoints, tls: tls, credentials: credentials)
        return RegistrySettings(etcd: etcd, options: try options(), resyncInterval: .seconds(registryResyncSeconds))
    }

    /// For `dev`: the given etcd, else a real one of its own (the `etcd` binary, on a free
    /// loopback port, data in a temporary folder) and its settings. Prints where it is and an
    /// `etcdctl` line to look at the entries. Stop the server when `dev` ends.
    func devSettings() async throws -> (RegistrySettings, EtcdServer?) {
        if let given = try settings() {
            announce("Registry: etcd \(given.etcd.endpoints.joined(separator: ",")), prefix \(given.options.prefix)")
            return (given, nil)
        }
        let server: EtcdServer
        do { server = try await EtcdServer.start() } catch {
            throw ValidationError("cannot start etcd for the registry (install etcd-server, or pass --etcd-endpoints): \(error)")
        }
        let options = try options()
        var lines = """
            Registry: etcd on \(server.clientURL) (data in \(server.dataDirectory), removed at exit). The entries:
              \(server.etcdctlCommand) get --prefix \(options.prefix)
            """
        if let dns = options.dns { lines += "\n  \(server.etcdctlCommand) get --prefix \(dns.zonePath)/" }
        announce(lines)
        let settings = RegistrySettings(etcd: EtcdConfiguration(endpoints: [server.clientURL], tls: server.clientTLS), options: options,
                                        resyncInterval: .seconds(registryResyncSeconds))
        return (settings, server)
    }
}

/// Where the registry controller writes, and how it reaches etcd.
struct RegistrySettings: Sendable {
    var etcd: EtcdConfiguration
    var options: RegistryOptions
    var resyncInterval: Duration
}

extension OperatorCore {
    /// The registry controller (when `settings.registry` is set): its controller joins the
    /// manager; its etcd mirror (it never writes, so it runs on every replica, like the
    /// informers) and its Event sender are returned to run beside them. Without it, says that
    /// the registry is off.
    func registryServices(manager: Manager, events: EventRecorder) throws -> [any Service] {
        guard let registry = settings.registry else {
            announce("registry: off (no --etcd-endpoints)")
            return []
        }
        let etcd: EtcdClient
        do { etcd = try EtcdClient(registry.etcd) } catch { throw ValidationError("--etcd-endpoints: \(error.message)") }
        let reconciler = RegistryReconciler(manager: manager, events: events, etcd: etcd, options: registry.options, namespace: settings.namespace,
                                            mirror: RegistryMirror.Configuration(resyncInterval: registry.resyncInterval), logger: logger)
        manager.add(reconciler.controller(workers: settings.workers))
        let dns = registry.options.dns.map { ", DNS \($0.domain) under \($0.zonePath)/" } ?? ""
        announce("registry: etcd \(etcd.endpoints.joined(separator: ",")), prefix \(registry.options.prefix)\(dns)")
        return [reconciler.mirror, reconciler.events]
    }
}
