import Foundation

/// Reads manifests from the paths a user gives (the I/O edge of `validate`; the checks are pure).
public enum ManifestFiles {
    /// A path that cannot be read: a usage error, since nothing could be checked.
    public struct Unreadable: Error, Sendable, Equatable, CustomStringConvertible {
        /// The path as given.
        public var path: String
        /// Why, in words.
        public var reason: String
        public var description: String { "\(path): \(reason)" }

        public init(path: String, reason: String) {
            self.path = path
            self.reason = reason
        }
    }

    /// The name stdin's manifests go by in problems.
    public static let stdinName = "<stdin>"
    /// The extensions read in directories (any case).
    public static let extensions: Set<String> = ["yaml", "yml", "json"]

    /// Each path in order: a file (whatever its name), a directory (recursively, its `.yaml`,
    /// `.yml` and `.json` files in name order; entries starting with `.` such as `.git` and
    /// `.github` are skipped), or `-` for stdin (read once).
    public static func read(_ paths: [String], stdin: () -> [UInt8] = { [UInt8](FileHandle.standardInput.readDataToEndOfFile()) })
        throws(Unreadable) -> [ManifestFile] {
        var files: [ManifestFile] = []
        var readStdin = false
        for path in paths {
            if path == "-" {
                guard !readStdin else { throw Unreadable(path: "-", reason: "stdin is given twice") }
                readStdin = true
                files.append(ManifestFile(path: stdinName, contents: stdin()))
                continue
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw Unreadable(path: path, reason: "no such file or directory")
            }
            if isDirectory.boolValue {
                var visited = Set<String>()
                let found = try walk(path, &visited)
                guard !found.isEmpty else { throw Unreadable(path: path, reason: "no .yaml, .yml or .json files in this directory") }
                files += found
            } else {
                files.append(try file(path))
            }
        }
        return files
    }

    private static func file(_ path: String) throws(Unreadable) -> ManifestFile {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Unreadable(path: path, reason: "cannot be read (permission denied?)") }
        defer { try? handle.close() }
        do {
            return ManifestFile(path: path, contents: [UInt8](try handle.readToEnd() ?? Data()))
        } catch {
            throw Unreadable(path: path, reason: "cannot be read: \(error.localizedDescription)")
        }
    }

    private static func walk(_ directory: String, _ visited: inout Set<String>) throws(Unreadable) -> [ManifestFile] {
        let real = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        guard visited.insert(real).inserted else { return [] }  // a symlink loop
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw Unreadable(path: directory, reason: "cannot be listed (permission denied?)")
        }
        var files: [ManifestFile] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            let path = directory.hasSuffix("/") ? directory + name : "\(directory)/\(name)"
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }  // a dangling link
            if isDirectory.boolValue {
                files += try walk(path, &visited)
            } else if let dot = name.lastIndex(of: "."), extensions.contains(name[name.index(after: dot)...].lowercased()) {
                files.append(try file(path))
            }
        }
        return files
    }
}
