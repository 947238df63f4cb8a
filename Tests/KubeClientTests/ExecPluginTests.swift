import Foundation
import HTTP
@testable import KubeClient
import LoopbackServer
import Testing
import YAML

/// A credential plugin as a real script: it counts its runs, keeps what it was given
/// (arguments, `KUBERNETES_EXEC_INFO`) and prints an ExecCredential whose token names the run
/// (`$PREFIX-<run>-<tty|notty>`). `expiry` holds the expirationTimestamp to print, if present;
/// `fail` makes it fail with that text on stderr; `answer` replaces its output.
struct PluginScript {
    let dir: TempDir
    let path: String

    init(apiVersion: String = "client.authentication.k8s.io/v1") throws {
        dir = try TempDir()
        let d = dir.url.path
        path = try dir.write("plugin.sh", """
            #!/bin/sh
            n=$(( $(cat '\(d)/runs' 2>/dev/null || echo 0) + 1 ))
            echo "$n" > '\(d)/runs'
            printf '%s' "$KUBERNETES_EXEC_INFO" > '\(d)/exec-info-'"$n"
            printf '%s' "$*" > '\(d)/args-'"$n"
            if [ -f '\(d)/fail' ]; then cat '\(d)/fail' >&2; exit 3; fi
            if [ -f '\(d)/answer' ]; then cat '\(d)/answer'; exit 0; fi
            if [ -t 0 ]; then tty=tty; else tty=notty; fi
            exp="2999-01-01T00:00:00Z"
            if [ -f '\(d)/expiry' ]; then exp=$(cat '\(d)/expiry'); fi
            printf '{"apiVersion":"\(apiVersion)","kind":"ExecCredential","status":{"token":"%s-%s-%s","expirationTimestamp":"%s"}}\\n' "$PREFIX" "$n" "$tty" "$exp"
            """)
        chmod(path, 0o755)
    }

    var runs: Int { Int((try? String(contentsOfFile: "\(dir.url.path)/runs", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0 }
    func read(_ name: String) -> String? { try? String(contentsOfFile: "\(dir.url.path)/\(name)", encoding: .utf8) }
    func set(_ name: String, _ text: String?) throws {
        let file = "\(dir.url.path)/\(name)"
        if let text { try text.write(toFile: file, atomically: true, encoding: .utf8) } else { try? FileManager.default.removeItem(atPath: file) }
    }

    static let defaultExec = """
        {apiVersion: client.authentication.k8s.io/v1, command: ./plugin.sh, args: [get-token, --cluster, dev],
         env: [{name: PREFIX, value: tok}], interactiveMode: IfAvailable, provideClusterInfo: true}
        """

    /// A kubeconfig whose user runs this plugin against `server`; `exec` is a flow mapping.
    func kubeconfig(server: String, exec: String = defaultExec) throws -> String {
        try dir.write("config", """
            current-context: dev
            clusters:
            - name: dev
              cluster:
                server: \(server)
                certificate-authority-data: \(Data(caPEM.utf8).base64EncodedString())
                extensions:
                - name: client.authentication.k8s.io/exec
                  extension: {audience: lucid-operator}
            contexts: [{name: dev, context: {cluster: dev, user: plugin}}]
            users:
            - name: plugin
              user:
                exec: \(exec.replacingOccurrences(of: "\n", with: " "))
            """)
    }

    func client(server: String, exec: String = defaultExec) throws -> KubeClient {
        let config = try KubeConfig.fromKubeconfig(environment: ["KUBECONFIG": try kubeconfig(server: server, exec: exec)])
        return try KubeClient(config: config, retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(10)))
    }
}

let unauthorized = #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#

@Suite struct ExecPluginTests {
    @Test func thePluginsTokenIsUsedAndSharedByConcurrentRequests() async throws {
        let plugin = try PluginScript()
        let seen = Seen()
        try await LoopbackServer.run(handler: { r, w in
            seen.add(r)
            try await w.respond(status: 200, text: "{}")
        }) { server in
            let kube = try plugin.client(server: server.baseURL)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<10 { group.addTask { _ = try await kube.get(.namespaces, name: "a") } }
                try await group.waitForAll()
            }
            _ = try await kube.get(.namespaces, name: "b")
            #expect(Set(seen.all.map { $0.header("authorization") }) == ["Bearer tok-1-notty"])
            #expect(seen.all.count == 11)
            #expect(plugin.runs == 1)
            #expect(plugin.read("args-1") == "get-token --cluster dev")

            let info = try JSON.parse(Array(try #require(plugin.read("exec-info-1")).utf8))
            #expect(info["apiVersion"] == "client.authentication.k8s.io/v1")
            #expect(info["kind"] == "ExecCredential")
            #expect(info[path: "spec", "interactive"] == false)
            #expect(info[path: "spec", "cluster", "server"]?.stringValue == server.baseURL)
            #expect(info[path: "spec", "cluster", "certificate-authority-data"]?.stringValue == Data(caPEM.utf8).base64EncodedString())
            #expect(info[path: "spec", "cluster", "config"] == ["audience": "lucid-operator"])
        }
    }

    @Test func anExpiredCredentialRunsThePluginAgain() async throws {
        let plugin = try PluginScript()
        try plugin.set("expiry", "2001-02-03T04:05:06Z")
        let seen = Seen()
        try await LoopbackServer.run(handler: { r, w in
            seen.add(r)
            try await w.respond(status: 200, text: "{}")
        }) { server in
            let kube = try plugin.client(server: server.baseURL)
            _ = try await kube.get(.namespaces, name: "a")   // run 1: already expired
            try plugin.set("expiry", nil)
            _ = try await kube.get(.namespaces, name: "a")   // run 2: valid until 2999
            _ = try await kube.get(.namespaces, name: "a")
            #expect(seen.all.map { $0.header("authorization") } == ["Bearer tok-1-notty", "Bearer tok-2-notty", "Bearer tok-2-notty"])
            #expect(plugin.runs == 2)
        }
    }

    @Test func a401RunsThePluginAgainAndRetriesOnce() async throws {
        let plugin = try PluginScript()
        let seen = Seen()
        try await LoopbackServer.run(handler: { r, w in
            seen.add(r)
            if r.header("authorization") == "Bearer tok-1-notty" || r.path.hasSuffix("/always") {
                try await w.respond(status: 401, text: unauthorized)
            } else {
                try await w.respond(status: 201, text: "{}")
            }
        }) { server in
            let kube = try plugin.client(server: server.baseURL)
            // A create (POST): a 401 means the server did nothing, so sending it again is safe.
            _ = try await kube.create(.configMaps, namespace: "ns", ["metadata": ["name": "x"]])
            #expect(seen.all.map { $0.header("authorization") } == ["Bearer tok-1-notty", "Bearer tok-2-notty"])
            #expect(plugin.runs == 2)

            // Refused again with fresh credentials: one renewal, then the 401 is the answer.
            do {
                _ = try await kube.get(.namespaces, name: "always")
                Issue.record("expected 401")
            } catch let error as KubeError {
                #expect(error.httpStatus == 401)
            }
            #expect(plugin.runs == 3)
            #expect(seen.all.filter { $0.path.hasSuffix("/always") }.map { $0.header("authorization") } == ["Bearer tok-2-notty", "Bearer tok-3-notty"])
        }
    }

    @Test func v1beta1PluginsWorkAndMustAnswerInTheirVersion() async throws {
        let beta = try PluginScript(apiVersion: "client.authentication.k8s.io/v1beta1")
        let seen = Seen()
        try await LoopbackServer.run(handler: { r, w in
            seen.add(r)
            try await w.respond(status: 200, text: "{}")
        }) { server in
            let config = "{apiVersion: client.authentication.k8s.io/v1beta1, command: \(beta.path), env: [{name: PREFIX, value: beta}]}"
            _ = try await beta.client(server: server.baseURL, exec: config).get(.namespaces, name: "a")
            #expect(seen.all.map { $0.header("authorization") } == ["Bearer beta-1-notty"])
            let info = try JSON.parse(Array(try #require(beta.read("exec-info-1")).utf8))
            #expect(info["apiVersion"] == "client.authentication.k8s.io/v1beta1")
            #expect(info[path: "spec", "cluster"] == nil, "no cluster info unless provideClusterInfo")

            // Configured for v1, answering v1beta1: refused, naming both.
            let mismatched = "{apiVersion: client.authentication.k8s.io/v1, command: \(beta.path), interactiveMode: Never}"
            do {
                _ = try await beta.client(server: server.baseURL, exec: mismatched).get(.namespaces, name: "a")
                Issue.record("expected a refusal")
            } catch {
                #expect("\(error)".contains("configured for client.authentication.k8s.io/v1 but answered in \"client.authentication.k8s.io/v1beta1\""), "\(error)")
            }
        }
    }

    @Test func failingPluginsSayWhy() async throws {
        let plugin = try PluginScript()
        try await LoopbackServer.run(handler: { _, w in try await w.respond(status: 200, text: "{}") }) { server in
            func failure(_ exec: String = PluginScript.defaultExec) async -> String {
                do {
                    _ = try await plugin.client(server: server.baseURL, exec: exec).get(.namespaces, name: "a")
                    return "no error"
                } catch let error as KubeError {
                    #expect(error.code == .configuration)
                    return error.description
                } catch {
                    return "\(error)"
                }
            }
            let missing = await failure(
                "{apiVersion: client.authentication.k8s.io/v1, command: lucid-no-such-plugin, interactiveMode: Never, installHint: 'Install it with `apt-get install lucid-auth`.'}")
            #expect(missing.contains("lucid-no-such-plugin: not found"), "\(missing)")
            #expect(missing.contains("Install it with `apt-get install lucid-auth`."), "\(missing)")

            try plugin.set("fail", "error: the session token has expired; run `lucid login`\n")
            let exited = await failure()
            #expect(exited.contains("exited with status 3"), "\(exited)")
            #expect(exited.contains("the session token has expired; run `lucid login`"), "\(exited)")
            try plugin.set("fail", nil)

            for (answer, expected) in [
                ("token: abc", "not an ExecCredential"),
                (#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential"}"#, "no status"),
                (#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}}"#, "neither a token nor a client certificate"),
                (#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t","expirationTimestamp":"soon"}}"#, "not an RFC 3339 time"),
                (#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"PEM"}}"#, "without clientKeyData"),
            ] {
                try plugin.set("answer", answer)
                let message = await failure()
                #expect(message.contains(expected), "\(answer): \(message)")
            }
        }
    }

    @Test func configurationsThatCannotWorkAreRefusedAtLoad() throws {
        let plugin = try PluginScript()
        func loadError(_ exec: String) -> String {
            do {
                _ = try KubeConfig.fromKubeconfig(environment: ["KUBECONFIG": try plugin.kubeconfig(server: "https://k", exec: exec)])
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        #expect(loadError("{apiVersion: client.authentication.k8s.io/v1, command: x, interactiveMode: Always}")
            .contains("interactiveMode Always needs a terminal"))
        #expect(loadError("{apiVersion: client.authentication.k8s.io/v1, command: x}").contains("interactiveMode is required"))
        #expect(loadError("{apiVersion: client.authentication.k8s.io/v1alpha1, command: x}").contains("is not supported"))
        #expect(loadError("{apiVersion: client.authentication.k8s.io/v1, interactiveMode: Never}").contains("command is required"))

        let config = try KubeConfig.fromKubeconfig(environment: ["KUBECONFIG": try plugin.kubeconfig(server: "https://k")])
        guard case .exec(let exec) = config.credentials else {
            Issue.record("expected exec credentials, got \(config.credentials)")
            return
        }
        #expect(exec.command == plugin.path, "a relative command is resolved against the kubeconfig's folder")
        #expect(exec.args == ["get-token", "--cluster", "dev"])
        #expect(exec.env == [ExecConfig.EnvVar(name: "PREFIX", value: "tok")])
        #expect(exec.interactiveMode == .ifAvailable)
    }

    @Test func aClientCertificateFromThePluginGoesIntoTheTLSConfiguration() async throws {
        let plugin = try PluginScript()
        let answer: JSON = ["apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                            "status": ["clientCertificateData": .string(caPEM), "clientKeyData": "KEY PEM"]]
        try plugin.set("answer", answer.jsonText)
        let source = CredentialSource(.exec(ExecConfig(command: plugin.path)))
        let authentication = try await source.current()
        #expect(authentication.token == nil)
        let tls = authentication.applied(to: HTTPRequest(url: "https://k/api", tls: TLSConfiguration())).tls
        #expect(tls?.clientCertificate == .pem(Array(caPEM.utf8)))
        #expect(tls?.clientKey == .pem(Array("KEY PEM".utf8)))
        // No TLS, no client certificate.
        #expect(authentication.applied(to: HTTPRequest(url: "http://k/api")).tls == nil)
    }
}

/// Run alone (`hack/test.sh`, second phase): the file is closed 50 ms into a retry budget of 300 ms.
@Suite(.serialized) struct ExecPluginTimingTests {
    /// A plugin file still open for writing (just written, or held by a child another thread
    /// forked meanwhile) cannot be executed: ETXTBSY. It is passing, so the start is retried.
    @Test func aPluginStillOpenForWritingStartsOnceItIsClosed() async throws {
        let plugin = try PluginScript()
        let writer = open(plugin.path, O_WRONLY)
        try #require(writer >= 0)
        let closed = Task {
            try await Task.sleep(for: .milliseconds(50))
            close(writer)
        }
        let authentication = try await CredentialSource(.exec(ExecConfig(command: plugin.path))).current()
        try await closed.value
        #expect(authentication.token == "-1-notty")
        #expect(plugin.runs == 1)
    }
}
