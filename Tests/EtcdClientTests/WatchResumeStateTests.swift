@testable import EtcdClient
import Testing

/// The resuming watch's decisions, message by message.
@Suite struct WatchResumeStateTests {
    func header(_ revision: Int64) -> ResponseHeader { ResponseHeader(clusterID: 1, memberID: 2, revision: revision, raftTerm: 3) }

    func event(_ key: String, _ revision: Int64, _ kind: WatchEvent.Kind = .put) -> WatchEvent {
        WatchEvent(kind: kind, kv: KeyValue(key: Array(key.utf8), value: [1], createRevision: revision, modRevision: revision, version: 1))
    }

    func created(_ revision: Int64) -> WatchMessage { WatchMessage(header: header(revision), created: true) }

    func events(_ revision: Int64, _ items: [WatchEvent]) -> WatchMessage { WatchMessage(header: header(revision), events: items) }

    @Test func aWatchFromNowStartsAfterTheRevisionItWasCreatedAt() {
        var state = WatchResumeState(startRevision: nil)
        #expect(state.nextRevision == nil)
        #expect(state.receive(created(41), random: 0) == .ignore)
        #expect(state.nextRevision == 42)
    }

    @Test func aWatchFromARevisionKeepsItWhenCreated() {
        var state = WatchResumeState(startRevision: 7)
        #expect(state.receive(created(41), random: 0) == .ignore)
        #expect(state.nextRevision == 7)
    }

    @Test func aStartRevisionOfZeroMeansNow() {
        #expect(WatchResumeState(startRevision: 0).nextRevision == nil)
        #expect(WatchResumeState(startRevision: -5).nextRevision == nil)
    }

    @Test func eventsAreDeliveredAndMoveTheResumePointPastTheLastOne() {
        var state = WatchResumeState(startRevision: 5)
        _ = state.receive(created(10), random: 0)
        let batch = [event("/a", 5), event("/b", 6, .delete), event("/c", 8)]
        #expect(state.receive(events(10, batch), random: 0) == .deliver(WatchResponse(header: header(10), events: batch, isProgressNotification: false)))
        // Not the header's revision: other keys' changes up to 10 are not this watch's proof.
        #expect(state.nextRevision == 9)
    }

    @Test func eventsBeforeTheResumePointAreNotDeliveredTwice() {
        var state = WatchResumeState(startRevision: 9)
        _ = state.receive(created(12), random: 0)
        let replay = [event("/a", 7), event("/b", 8)]
        #expect(state.receive(events(12, replay), random: 0) == .ignore)
        let mixed = [event("/b", 8), event("/c", 9), event("/d", 11)]
        #expect(state.receive(events(12, mixed), random: 0)
                == .deliver(WatchResponse(header: header(12), events: Array(mixed.dropFirst()), isProgressNotification: false)))
        #expect(state.nextRevision == 12)
    }

    @Test func aProgressNotificationIsDeliveredAndMovesTheResumePointToItsRevision() {
        var state = WatchResumeState(startRevision: 3)
        _ = state.receive(created(20), random: 0)
        #expect(state.receive(WatchMessage(header: header(20)), random: 0)
                == .deliver(WatchResponse(header: header(20), events: [], isProgressNotification: true)))
        #expect(state.nextRevision == 21)
    }

    @Test func anOlderProgressNotificationNeverMovesTheResumePointBack() {
        var state = WatchResumeState(startRevision: 30)
        _ = state.receive(created(40), random: 0)
        _ = state.receive(WatchMessage(header: header(25)), random: 0)
        #expect(state.nextRevision == 30)
    }

    @Test func compactionEndsTheWatchWithTheCompactRevision() {
        var state = WatchResumeState(startRevision: 2)
        #expect(state.receive(WatchMessage(header: header(0), canceled: true, compactRevision: 17), random: 0) == .compacted(revision: 17))
    }

    @Test func aRefusedTokenAsksForANewOneOnceThenFails() {
        var state = WatchResumeState(startRevision: 2)
        let refused = WatchMessage(header: header(5), created: true, canceled: true,
                                   cancelReason: "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token")
        #expect(state.receive(refused, random: 0) == .reauthenticate)
        #expect(state.receive(refused, random: 0) == .fail(.unauthenticated, message: refused.cancelReason, grpcCode: 16))
    }

    @Test func anEstablishedWatchMayReauthenticateAgain() {
        var state = WatchResumeState(startRevision: 2)
        let refused = WatchMessage(header: header(5), canceled: true, cancelReason: "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token")
        #expect(state.receive(refused, random: 0) == .reauthenticate)
        _ = state.receive(created(6), random: 0)
        #expect(state.receive(refused, random: 0) == .reauthenticate)
    }

    @Test func permissionDeniedEndsTheWatch() {
        var state = WatchResumeState(startRevision: nil)
        let denied = WatchMessage(header: header(5), created: true, canceled: true,
                                  cancelReason: "rpc error: code = PermissionDenied desc = etcdserver: permission denied")
        #expect(state.receive(denied, random: 0) == .fail(.permissionDenied, message: denied.cancelReason, grpcCode: 7))
    }

    @Test func anyOtherCancellationEndsTheWatchSayingWhy() {
        var state = WatchResumeState(startRevision: nil)
        #expect(state.receive(WatchMessage(canceled: true, cancelReason: "something new"), random: 0)
                == .fail(.watchCanceled, message: "something new", grpcCode: nil))
        #expect(state.receive(WatchMessage(canceled: true), random: 0)
                == .fail(.watchCanceled, message: "the server canceled the watch", grpcCode: nil))
    }

    @Test func streamErrorsAreClassified() {
        var state = WatchResumeState(startRevision: 4)
        #expect(state.receive(WatchMessage(failure: .init(grpcCode: 14, message: "etcdserver: no leader")), random: 0) == .reconnect(after: .zero))
        #expect(state.receive(WatchMessage(failure: .init(grpcCode: 16, message: "etcdserver: invalid auth token")), random: 0) == .reauthenticate)
        #expect(state.receive(WatchMessage(failure: .init(grpcCode: 3, message: "bad")), random: 0) == .fail(.invalidArgument, message: "bad", grpcCode: 3))
    }

    @Test func theFirstLostConnectionReconnectsAtOnceThenBackoffGrowsToItsCap() {
        var state = WatchResumeState(startRevision: 4, maxFailures: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        var delays: [Duration] = []
        for _ in 1...8 {
            if case .reconnect(let after) = state.connectionLost(random: 0.999_999) { delays.append(after) }
        }
        let ceilings: [Duration] = [.zero, .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1), .seconds(1)]
        #expect(delays.count == 8)
        for (delay, ceiling) in zip(delays, ceilings) {
            #expect(delay <= ceiling && delay >= ceiling * 0.99, "\(delays)")
        }
    }

    @Test func jitterHalvesTheDelayAtMost() {
        var state = WatchResumeState(startRevision: 4, baseDelay: .milliseconds(100))
        _ = state.connectionLost(random: 0)
        #expect(state.connectionLost(random: 0) == .reconnect(after: .milliseconds(50)))
    }

    @Test func tooManyLostConnectionsInARowEndTheWatch() {
        var state = WatchResumeState(startRevision: 4, maxFailures: 3)
        for _ in 1...3 {
            guard case .reconnect = state.connectionLost(random: 0) else {
                Issue.record("gave up too early")
                return
            }
        }
        #expect(state.connectionLost(random: 0) == .fail(.unavailable, message: "the watch lost its connection 4 times in a row", grpcCode: nil))
    }

    @Test func anEstablishedConnectionResetsTheFailureCount() {
        var state = WatchResumeState(startRevision: 4, maxFailures: 2)
        _ = state.connectionLost(random: 0)
        _ = state.connectionLost(random: 0)
        _ = state.receive(created(9), random: 0)
        #expect(state.failures == 0)
        #expect(state.connectionLost(random: 0) == .reconnect(after: .zero))
        #expect(state.nextRevision == 4)
    }

    @Test func grpcCodesAreReadFromCancelReasons() {
        #expect(WatchResumeState.grpcCode(in: "rpc error: code = OutOfRange desc = x") == 11)
        #expect(WatchResumeState.grpcCode(in: "rpc error: code = Unavailable desc = x") == 14)
        #expect(WatchResumeState.grpcCode(in: "no code here") == nil)
        #expect(WatchResumeState.grpcCode(in: "rpc error: code = Bogus desc = x") == nil)
    }
}
