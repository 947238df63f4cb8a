import LucidAPI
import Payouts
import Testing
import Tron

/// One payout that must never be paid, and what its message must name.
struct BadPayout: CustomTestStringConvertible, Sendable {
    let summary: String
    let reason: String
    let mentions: String
    let build: @Sendable (inout World) -> Void
    var testDescription: String { summary }

    static func spec(_ summary: String, mentions: String, _ change: @escaping @Sendable (inout TronPayoutSpec) -> Void) -> BadPayout {
        BadPayout(summary: summary, reason: "Invalid", mentions: mentions) { change(&$0.payout.spec) }
    }
}

let badPayouts: [BadPayout] = [
    .spec("recipient checksum", mentions: "checksum") { $0.recipient = "TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zrv" },
    .spec("recipient is the zero address", mentions: "zero address") { $0.recipient = "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb" },
    .spec("recipient is the USDT contract", mentions: "token contract") { $0.recipient = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf" },
    .spec("recipient is Ethereum-style", mentions: "spec.recipient") { $0.recipient = "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf" },
    .spec("recipient in hex", mentions: "spec.recipient") { $0.recipient = "41dd0e49d7db2d33ab0ba2f9fd4b2ab9d19f3cc5b2" },
    .spec("recipient too short", mentions: "spec.recipient") { $0.recipient = "TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5z" },
    .spec("recipient is the signer", mentions: "signer's own address") { $0.recipient = signerAddress },
    .spec("seven decimals", mentions: "spec.amount") { $0.amount = "1.1234567" },
    .spec("zero amount", mentions: "greater than zero") { $0.amount = "0.000000" },
    .spec("negative amount", mentions: "spec.amount") { $0.amount = "-5" },
    .spec("exponent", mentions: "spec.amount") { $0.amount = "1e3" },
    .spec("trailing point", mentions: "spec.amount") { $0.amount = "12." },
    .spec("comma decimal", mentions: "spec.amount") { $0.amount = "12,5" },
    .spec("more than Int64 base units", mentions: "too large") { $0.amount = "9999999999999" },
    .spec("USDT on shasta", mentions: "no USDT contract") { $0.network = "shasta" },
    .spec("unknown network", mentions: "spec.network") { $0.network = "moon" },
    .spec("signer address checksum", mentions: "spec.signer.address") { $0.signer.address = "THKrowiEfCe8evdbaBzDDvQjM5DGeB3s3G" },
    .spec("signer is the zero address", mentions: "zero address cannot sign") { $0.signer.address = "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb" },
    .spec("empty session id", mentions: "spec.sessionId") { $0.sessionId = "" },
    .spec("session id with spaces", mentions: "spec.sessionId") { $0.sessionId = "session 42" },
    .spec("secret name not a DNS name", mentions: "spec.signer.secretRef.name") { $0.signer.secretRef.name = "Payout_Signer" },
    BadPayout(summary: "a duplicate session (older payout)", reason: "DuplicateSession", mentions: "first used by payout older") {
        $0.peers = [SessionPeer(name: "older", uid: "u-older", creationTimestamp: "2026-07-01T09:00:00Z", phase: .completed, attempts: 1)]
    },
    BadPayout(summary: "a duplicate session (claim held)", reason: "DuplicateSession", mentions: "held by payout other") {
        $0.claim = .held(payoutName: "other", payoutUID: "u-other")
    },
]

@Suite struct InvalidPayoutTests {
    @Test(arguments: badPayouts)
    func isRefusedWithAMessageAndNeverPaid(_ bad: BadPayout) {
        var world = World(makePayout())
        bad.build(&world)
        world.settle()
        #expect(world.condition("Ready")?.status == .false)
        #expect(world.condition("Ready")?.reason == bad.reason)
        #expect(world.condition("Stalled")?.status == .true)
        let message = world.status?.message ?? ""
        #expect(message.contains(bad.mentions), "\(message)")
        #expect(world.jobsCreated.isEmpty)
        #expect(world.currentAttempt == nil)
        #expect(world.chainReads.isEmpty, "nothing was asked of the chain")
        #expect(world.payout.metadata.finalizers?.isEmpty ?? true)
        #expect(world.status?.phase == .failed)
        #expect(world.claim == (bad.summary.contains("claim held") ? .held(payoutName: "other", payoutUID: "u-other") : .absent))
        #expect(world.events.contains { $0.type == .warning && $0.reason == bad.reason })
        #expect(!world.step().writes, "refused once, then idle")
    }

    @Test func thereAreEnoughCases() { #expect(badPayouts.count >= 20) }
}

/// A payout whose spec does not decode at all never reaches the machine's validation: it is
/// refused the same way, and a finalizer goes first.
@Suite struct UndecodablePayoutTests {
    let problem = "spec.currency: \"EUR\" is not USDT or TRX"

    @Test func beforeAnyAttemptItFailsOnceThenIdles() throws {
        let decision = PayoutMachine.decideUndecodable(status: nil, problem: problem, generation: 1, resourceVersion: "5",
                                                       hasFinalizer: false, now: created)
        let status = try #require(decision.status)
        #expect(decision.resourceVersion == "5")
        #expect(status.phase == .failed && status.message?.contains(problem) == true)
        #expect(status.conditions?.first("Ready")?.status == .false && status.conditions?.first("Ready")?.reason == "Invalid")
        #expect(status.conditions?.first("Stalled")?.status == .true)
        #expect(decision.events.map(\.reason) == ["Invalid"] && decision.events.first?.type == .warning)
        #expect(decision.job == nil)
        let again = PayoutMachine.decideUndecodable(status: status, problem: problem, generation: 1, resourceVersion: "6",
                                                    hasFinalizer: false, now: "2026-07-01T12:00:00Z")
        #expect(!again.writes && again.actions.isEmpty, "refused once, then idle")
    }

    @Test func aFinalizerGoesFirstAndAlone() {
        let decision = PayoutMachine.decideUndecodable(status: nil, problem: problem, generation: 1, resourceVersion: "5",
                                                       hasFinalizer: true, now: created)
        #expect(decision == PayoutDecision(actions: [.removeFinalizer]))
    }

    @Test func anAttemptThatMayStillLandKeepsTheFinalizerAndCreatesNothing() throws {
        var current = TronPayoutStatus(phase: .broadcasting)
        current.attempts = [PayoutAttempt(attempt: 1, txID: String(repeating: "ab", count: 32), rawDataHex: "0a", expiration: 1, jobName: "payout-x-1")]
        let decision = PayoutMachine.decideUndecodable(status: current, problem: problem, generation: 1, resourceVersion: "5",
                                                       hasFinalizer: true, now: created)
        let status = try #require(decision.status)
        #expect(status.phase == .broadcasting && status.conditions?.first("Stalled")?.status == .true)
        #expect(status.message?.contains("may still land") == true)
        #expect(!decision.actions.contains(.removeFinalizer) && decision.job == nil)
    }
}
