import Foundation
import LucidAPI
import Testing
import YAML

/// The Argo CD health checks as they ship (the scripts in the rendered argocd-cm), run by Lua 5.4
/// (`lua5.4`, Debian) over status fixtures built with the operator's own status types.
@Suite struct ArgoHealthTests {
    struct Verdict: Equatable, CustomStringConvertible {
        var status: String
        var message: String
        var description: String { "\(status): \(message)" }
    }

    /// The checks in the argocd-cm that manifests/argocd renders, by key.
    static func scripts(_ scratch: Scratch) async throws -> JSON {
        let cm = try #require(try await kustomize("manifests/argocd", scratch).first("ConfigMap", "argocd-cm"))
        return cm["data"] ?? [:]
    }

    /// Runs the check Argo CD would run for `object`'s group and kind.
    static func health(_ object: JSON, _ scripts: JSON, _ scratch: Scratch) async throws -> Verdict {
        let group = (object["apiVersion"]?.stringValue ?? "").split(separator: "/").first.map(String.init) ?? ""
        let key = "resource.customizations.health.\(group)_\(object.kind)"
        let script = try #require(scripts[key]?.stringValue, "argocd-cm has no \(key)")
        let id = UUID().uuidString
        let scriptPath = try scratch.write("check-\(id).lua", script)
        let harness = """
            obj = \(lua(object))
            local check = assert(loadfile("\(scriptPath)"))
            local hs = check()
            io.write(tostring(hs.status), "\\n", tostring(hs.message), "\\n")
            """
        let result = try await run("lua5.4", [try scratch.write("harness-\(id).lua", harness)], in: scratch)
        guard result.status == 0 else { throw TestFailure("lua5.4 failed on \(key): \(result.output)") }
        let lines = result.output.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        return Verdict(status: lines.first ?? "", message: lines.count > 1 ? lines[1].trimmingCharacters(in: .newlines) : "")
    }

    /// A Lua table constructor for a JSON value (as Argo CD hands objects to its scripts).
    static func lua(_ value: JSON) -> String {
        switch value {
        case .null: return "nil"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s):
            var out = "\""
            for byte in s.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): out += "\\\\"
                case UInt8(ascii: "\""): out += "\\\""
                case 0..<32, 127...: out += "\\\(byte)"
                default: out.append(Character(Unicode.Scalar(byte)))
                }
            }
            return out + "\""
        case .array(let items): return "{" + items.map(lua).joined(separator: ", ") + "}"
        case .object(let o): return "{" + o.map { "[\(lua(.string($0.key)))] = \(lua($0.value))" }.joined(separator: ", ") + "}"
        }
    }

    static let now = "2026-01-01T00:00:00Z"

    static func mesh(_ kind: String, generation: Int64 = 1, _ status: PolicyStatus?) throws -> JSON {
        var object: JSON = ["apiVersion": "mesh.lucid.io/v1alpha1", "kind": .string(kind),
                            "metadata": ["name": "p", "namespace": "shop", "generation": .int(generation)], "spec": ["service": "x"]]
        if let status { object["status"] = try JSON.encode(status) }
        return object
    }

    static func ready(_ state: Condition.State, _ reason: String, observed: Int64? = 1, stalled: Bool = false, statusGeneration: Int64? = nil) -> PolicyStatus {
        var status = PolicyStatus()
        status.observedGeneration = statusGeneration ?? observed
        status.conditions = [Condition]().setting("Ready", state, reason: reason, message: "about \(reason)", observedGeneration: observed, now: now)
        if stalled { status.conditions = status.conditions?.setting("Stalled", .true, reason: reason, message: "stuck", observedGeneration: observed, now: now) }
        return status
    }

    @Test(arguments: ["TrafficPolicy", "SecurityPolicy", "CircuitBreakerConfig"])
    func meshResources(_ kind: String) async throws {
        let scratch = try Scratch()
        let scripts = try await Self.scripts(scratch)
        func check(_ object: JSON) async throws -> Verdict { try await Self.health(object, scripts, scratch) }

        #expect(try await check(Self.mesh(kind, nil)) == Verdict(status: "Progressing", message: "waiting for the operator to observe generation 1"))
        #expect(try await check(Self.mesh(kind, Self.ready(.true, "Applied"))) == Verdict(status: "Healthy", message: "Applied: about Applied"))
        // Ready for an older generation is not ready for this one.
        #expect(try await check(Self.mesh(kind, generation: 2, Self.ready(.true, "Applied"))).status == "Progressing")
        #expect(try await check(Self.mesh(kind, generation: 2, Self.ready(.true, "Applied", observed: 2))).status == "Healthy")
        // Without an observedGeneration on the condition, the status's counts.
        #expect(try await check(Self.mesh(kind, generation: 3, Self.ready(.true, "Applied", observed: nil, statusGeneration: 3))).status == "Healthy")
        #expect(try await check(Self.mesh(kind, generation: 3, Self.ready(.true, "Applied", observed: nil, statusGeneration: 2))).status == "Progressing")
        // Waiting for an object it names: the Service may come with the same sync.
        for reason in ["DestinationNotFound", "SourceNotFound", "MirrorTargetNotFound", "SecretNotFound", "CertificateNotReady"] {
            #expect(try await check(Self.mesh(kind, Self.ready(.false, reason))) == Verdict(status: "Progressing", message: "\(reason): about \(reason)"))
        }
        // Only a change to the resource fixes these.
        for reason in ["Invalid", "InvalidDestination", "Conflict", "UnsupportedProtocol"] {
            #expect(try await check(Self.mesh(kind, Self.ready(.false, reason))) == Verdict(status: "Degraded", message: "\(reason): about \(reason)"))
        }
        #expect(try await check(Self.mesh(kind, Self.ready(.false, "SecretNotFound", stalled: true))).status == "Degraded")
        #expect(try await check(Self.mesh(kind, Self.ready(.false, "Disabled"))) == Verdict(status: "Suspended", message: "Disabled: about Disabled"))
    }

    static func payout(_ phase: PayoutPhase?, stalled: Bool = false) throws -> JSON {
        var object: JSON = ["apiVersion": "payments.lucid.io/v1alpha1", "kind": "TronPayout",
                            "metadata": ["name": "session-1", "namespace": "pay", "generation": 1], "spec": ["sessionId": "1"]]
        guard let phase else { return object }
        var status = TronPayoutStatus(phase: phase)
        status.observedGeneration = 1
        status.message = "the \(phase.rawValue) message"
        let reconciling = !phase.isTerminal && phase != .awaitingApproval
        var conditions = [Condition]()
            .setting("Ready", phase == .completed ? .true : .false, reason: phase.rawValue, message: "ready?", observedGeneration: 1, now: now)
            .setting("Reconciling", reconciling ? .true : .false, reason: phase.rawValue, message: "working", observedGeneration: 1, now: now)
        if stalled || phase == .failed || phase == .rejected {
            conditions = conditions.setting("Stalled", .true, reason: "SecretNotFound", message: "stuck", observedGeneration: 1, now: now)
        }
        status.conditions = conditions
        if phase == .completed { status.txID = String(repeating: "ab", count: 32) }
        var json = object
        json["status"] = try JSON.encode(status)
        object = json
        return object
    }

    /// Completed is healthy; Failed and Rejected degraded; AwaitingApproval suspended; the
    /// rest progressing — every phase there is (a new one would not compile here).
    @Test func payoutsByPhase() async throws {
        let scratch = try Scratch()
        let scripts = try await Self.scripts(scratch)
        for phase in PayoutPhase.allCases {
            let expected: String
            switch phase {
            case .completed: expected = "Healthy"
            case .failed, .rejected: expected = "Degraded"
            case .awaitingApproval: expected = "Suspended"
            case .pending, .prepared, .broadcasting, .confirming: expected = "Progressing"
            }
            let verdict = try await Self.health(Self.payout(phase), scripts, scratch)
            #expect(verdict.status == expected, "\(phase): \(verdict)")
            if phase == .completed {
                #expect(verdict.message == "Completed: paid in transaction \(String(repeating: "ab", count: 32))")
            } else {
                #expect(verdict.message == "\(phase.rawValue): the \(phase.rawValue) message")
            }
        }
        // A pending payout that cannot go on (its signer Secret is missing) is degraded.
        #expect(try await Self.health(Self.payout(.pending, stalled: true), scripts, scratch).status == "Degraded")
        #expect(try await Self.health(Self.payout(nil), scripts, scratch) == Verdict(status: "Progressing", message: "waiting for the operator"))
    }
}
