import EtcdClient
@testable import EtcdServer
import Foundation
import LoopbackServer
import Testing

/// The etcd fixture itself: where it lives, and that its process never outlives its owner.
@Suite(.timeLimit(.minutes(3))) struct FixtureTests {
    @Test func aServerListensOnLoopbackWithItsDataInATemporaryFolder() async throws {
        let etcd = try await EtcdServer.start()
        #expect(etcd.clientURL.hasPrefix("http://127.0.0.1:"))
        #expect(FileManager.default.fileExists(atPath: etcd.dataDirectory + "/member"))
        #expect(etcd.etcdctlCommand.contains("--endpoints=\(etcd.clientURL)"))
        let pid = try #require(readPID(etcd))
        #expect(processExists(pid))
        etcd.stop()
        #expect(!processExists(pid))
        #expect(!FileManager.default.fileExists(atPath: etcd.directory))
    }

    @Test func releasingTheLastReferenceKillsTheProcess() async throws {
        // What happens here is what happens when the test process dies: its end of the guard's
        // socket pair closes, and the guard kills etcd.
        var etcd: EtcdServer? = try await EtcdServer.start()
        let pid = try #require(etcd.flatMap(readPID))
        let directory = try #require(etcd?.workspace.root)
        #expect(processExists(pid))
        etcd = nil
        try await waitUntil(.seconds(30), "etcd to be killed") { !processExists(pid) }
        try await waitUntil(.seconds(30), "its folder to be removed") { !FileManager.default.fileExists(atPath: directory) }
    }

    @Test func theGuardKillsTheChildWhenItsOwnerGoesAway() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("guard-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let scratch = directory + "/scratch"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let process = try GuardedProcess("sleep", ["600"], logPath: directory + "/log", pidFile: directory + "/pid", cleanupOnOrphan: scratch)
        let child = try #require(await process.childPID())
        #expect(processExists(child) && !process.hasExited)
        process.release()
        await process.waitForExit()
        #expect(!processExists(child), "sleep outlived its owner")
        #expect(!FileManager.default.fileExists(atPath: scratch), "the orphan's data was left behind")
    }

    #if os(Linux)
    @Test func theChildInheritsNoDescriptorOfThisProcess() async throws {
        // Open a listening socket and a client connection here first: neither may leak.
        let (_, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        _ = try await client.get("/warm")
        let etcd = try await EtcdServer.start()
        defer { etcd.stop() }
        let guardPID = try #require(etcd.guardPID)
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(guardPID)/fd").compactMap { Int($0) }
        // stdin, stdout, stderr, the guard's socket, and dash's own copy of its script input (10).
        #expect(Set(open).isSubset(of: [0, 1, 2, 3, 10]), "the guard holds \(open.sorted())")
    }
    #endif

    @Test func aChildKilledByItsOwnerKeepsItsData() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("guard-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let process = try GuardedProcess("sleep", ["600"], logPath: directory + "/log", pidFile: directory + "/pid", cleanupOnOrphan: directory)
        let child = try #require(await process.childPID())
        await process.signalChild(SIGKILL)
        await process.waitForExit()
        #expect(!processExists(child))
        #expect(FileManager.default.fileExists(atPath: directory + "/log"), "a deliberate kill must keep the data for a restart")
        process.release()
    }

    @Test func aKilledServerRestartsOnTheSamePortsAndData() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.stop() }
        let client = try EtcdClient(EtcdConfiguration(endpoints: [etcd.clientURL]))
        defer { client.shutdown() }
        try await client.put("/kept", "yes")
        let before = try #require(readPID(etcd))
        await etcd.kill()
        #expect(!processExists(before) && !etcd.isRunning)
        try await etcd.restart()
        let after = try #require(readPID(etcd))
        #expect(after != before && processExists(after))
        #expect(try await client.get("/kept")?.valueText == "yes")
    }

    @Test func aMissingBinaryIsAClearError() async throws {
        await #expect {
            _ = try await EtcdServer.start(EtcdServer.Options(executable: "/nonexistent/etcd"))
        } throws: { "\($0)".contains("not installed") }
    }

    private func readPID(_ etcd: EtcdServer) -> Int32? {
        (try? String(contentsOfFile: etcd.directory + "/etcd.pid", encoding: .utf8)).flatMap { Int32($0.filter(\.isNumber)) }
    }
}
