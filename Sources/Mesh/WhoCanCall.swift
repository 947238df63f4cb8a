import LucidAPI

/// One thing a caller may (or may not) do at a destination.
public struct AccessLine: Sendable, Equatable {
    /// A path prefix by whole segments; a longer prefix listed for the same caller takes precedence.
    public var path: String
    /// nil: any method (not listed on another line for the same path).
    public var method: String?
    /// What the caller must present, in words ("mtls", "none", "mtls + jwt ...").
    public var authentication: String
    public var allowed: Bool
    /// `policy/rules[i]`, `policy/requirements`, or a plane default.
    public var decidedBy: String
}

/// What one caller may do.
public struct CallerAccess: Sendable, Equatable {
    /// A Service's name, or a description of a class of callers.
    public var caller: String
    public var plane: String?
    /// Set when the caller is not seen as itself (its certificate is not issued yet).
    public var note: String?
    public var lines: [AccessLine]

    /// Whether any call of this caller is allowed (the network must let it through).
    public var mayConnect: Bool { lines.contains(where: \.allowed) }
}

/// The answer to "who can call this Service?", computed from the same inputs as the sidecar's
/// config and evaluated the same way (`SecurityProgram`).
public struct WhoCanCallReport: Sendable, Equatable {
    public var destination: String
    public var plane: String
    public var isolation: PlaneIsolation
    public var callers: [CallerAccess]
    /// Policies of this destination that are not Ready, with why.
    public var notes: [String]
}

public enum WhoCanCall {
    public static let otherIdentities = "other mesh identities"
    public static let anonymous = "anonymous"

    public static func analyze(_ inputs: InboundInputs) -> WhoCanCallReport {
        let analysis = SecurityAnalysis(inputs)
        var callers: [CallerAccess] = []
        for service in inputs.services.sorted(by: { $0.name < $1.name }) {
            let certified = analysis.certified.contains(service.name)
            let identity: CallerIdentity = certified ? .service(name: service.name, plane: service.plane) : .anonymous
            callers.append(CallerAccess(caller: service.name, plane: service.plane,
                                        note: certified ? nil : "no certificate yet (Secret \(MeshIdentity.certificateSecretName(service.name))): seen as anonymous",
                                        lines: lines(for: identity, analysis)))
        }
        callers.append(CallerAccess(caller: otherIdentities, plane: nil, note: "certificates of other namespaces",
                                    lines: lines(for: .otherMeshIdentity, analysis)))
        callers.append(CallerAccess(caller: anonymous, plane: nil, note: "no client certificate", lines: lines(for: .anonymous, analysis)))
        let notes = analysis.outcomes.keys.sorted().compactMap { name -> String? in
            guard let o = analysis.outcomes[name], !o.ready else { return nil }
            return "\(name): \(o.reason): \(o.message)"
        }
        let d = inputs.destination
        return WhoCanCallReport(destination: "\(d.namespace)/\(d.name)", plane: d.plane, isolation: inputs.settings.planeIsolation,
                                callers: callers, notes: notes)
    }

    /// The caller's lines: one set per path region, merged over methods when they agree.
    static func lines(for caller: CallerIdentity, _ analysis: SecurityAnalysis) -> [AccessLine] {
        let program = analysis.program
        let applicable = program.entries.filter { program.applies($0, to: caller) }
        let paths = Set(applicable.compactMap(\.match.path)).subtracting(["/"]).sorted(by: morePrecise) + ["/"]
        let methods: [String?] = Set(applicable.compactMap(\.match.method)).sorted().map(Optional.some) + [nil]
        var result: [AccessLine] = []
        for path in paths {
            let perMethod = methods.map { method in walk(caller, path: path, method: method, applicable, analysis) }
            if let last = perMethod.last, perMethod.allSatisfy({ $0 == last }) {
                result += last
            } else {
                for (method, lines) in zip(methods, perMethod) where method == nil || lines != perMethod.last {
                    result += lines.map { var l = $0; l.method = method; return l }
                }
            }
        }
        return result
    }

    /// Paths by segment, a path before the prefixes it falls under.
    static func morePrecise(_ a: String, _ b: String) -> Bool {
        let (x, y) = (a.split(separator: "/"), b.split(separator: "/"))
        for (p, q) in zip(x, y) where p != q { return p < q }
        return x.count > y.count
    }

    /// Follows the program for one (caller, path region, method) with credentials left open.
    static func walk(_ caller: CallerIdentity, path: String, method: String?, _ entries: [SecurityEntry],
                     _ analysis: SecurityAnalysis) -> [AccessLine] {
        let identified = caller != .anonymous
        var requirements: [[Credential]] = []
        var lines: [AccessLine] = []
        var requirementsOf: String?
        func line(_ extra: [Credential]?, allowed: Bool, by: String) -> AccessLine {
            var parts = requirements
            if let extra { parts.append(extra) }
            let words = parts.map { $0.map { describe($0, analysis) }.joined(separator: " or ") }
            let base = identified ? ["mtls"] : []
            let text = (base + words.filter { $0 != "mtls" }).joined(separator: " + ")
            return AccessLine(path: path, method: nil, authentication: allowed ? (text.isEmpty ? "none" : text) : (lines.isEmpty ? "-" : "otherwise"),
                              allowed: allowed, decidedBy: by)
        }
        for entry in entries {
            if let m = entry.match.method, m != method { continue }
            if let p = entry.match.path, !SecurityProgram.pathMatches(prefix: p, path) { continue }
            switch entry.kind {
            case .deny:
                lines.append(line(nil, allowed: false, by: entry.label))
                return lines
            case .allow(nil):
                lines.append(line(nil, allowed: true, by: entry.label))
                return lines
            case .allow(let credentials?):
                let usable = credentials.filter { $0 != .mtls || identified }
                if credentials.contains(.mtls) && identified {
                    lines.append(line(nil, allowed: true, by: entry.label))
                    return lines
                }
                if !usable.isEmpty { lines.append(line(usable, allowed: true, by: entry.label)) }
            case .require(let credentials):
                if credentials.contains(.mtls) && identified {
                    // Already proven by the caller's certificate.
                } else {
                    let usable = credentials.filter { $0 != .mtls }
                    if usable.isEmpty {
                        lines.append(line(nil, allowed: false, by: entry.label))
                        return lines
                    }
                    requirements.append(usable)
                }
                if entry.source != nil && requirementsOf == nil { requirementsOf = entry.policy }
            }
        }
        if let policy = requirementsOf {
            lines.append(line(nil, allowed: true, by: "\(policy)/requirements"))
        } else {
            let d = analysis.program.planeDefault(caller)
            lines.append(line(nil, allowed: d.allowed, by: d.decidedBy))
        }
        return lines
    }

    static func describe(_ credential: Credential, _ analysis: SecurityAnalysis) -> String {
        switch credential {
        case .mtls:
            return "mtls"
        case .apiKey(let header, let secret):
            let missing = analysis.inputs.secrets[secret] == nil ? ", not found: no key works" : ""
            return "api-key in \(header) (Secret \(secret)\(missing))"
        case .jwt(let check):
            var s = "jwt from \(check.provider.issuer)"
            if !check.audiences.isEmpty { s += " for \(check.audiences.joined(separator: "|"))" }
            if !check.roles.isEmpty { s += " with role \(check.roles.joined(separator: "|"))" }
            if !check.permissions.isEmpty { s += " with permissions \(check.permissions.joined(separator: ", "))" }
            return s
        }
    }

    /// A plain-text table, one line per (caller, path, method).
    public static func format(_ report: WhoCanCallReport) -> String {
        var out = "Who can call \(report.destination) (plane \(report.plane), plane isolation \(report.isolation.rawValue))\n\n"
        var rows: [[String]] = [["CALLER", "PATH", "METHOD", "AUTHENTICATION", "DECISION", "DECIDED BY"]]
        for caller in report.callers {
            let name = caller.plane.map { "\(caller.caller) (\($0))" } ?? caller.caller
            for (i, line) in caller.lines.enumerated() {
                rows.append([i == 0 ? name : "", line.path, line.method ?? "any", line.authentication,
                             line.allowed ? "allow" : "deny", line.decidedBy])
            }
        }
        let widths = (0..<6).map { c in rows.map { $0[c].count }.max() ?? 0 }
        for row in rows {
            var text = ""
            for (c, cell) in row.enumerated() {
                text += c == 5 ? cell : cell + String(repeating: " ", count: widths[c] - cell.count + 2)
            }
            out += text + "\n"
        }
        let notes = report.callers.compactMap { c in c.note.flatMap { c.plane == nil ? nil : "\(c.caller): \($0)" } } + report.notes
        if !notes.isEmpty { out += "\n" + notes.map { "note: \($0)" }.joined(separator: "\n") + "\n" }
        return out
    }
}
