import LucidAPI
import Payouts
import Testing
import Tron
import YAML

@Suite struct PayoutMachineTests {
    // MARK: the happy path

    @Test(arguments: [(Currency.usdt, "125.50"), (Currency.trx, "3")])
    func happyPathFromPendingToCompleted(currency: Currency, amount: String) throws {
        var world = World(makePayout(amount: amount, currency: currency))
        world.settle()  // claimed, finalizer, prepared, Job created and running
        #expect(world.phases == [.pending, .prepared, .broadcasting])
        let attempt = try #require(world.currentAttempt)
        #expect(world.jobsCreated.count == 1)
        #expect(world.payout.metadata.finalizers == [PayoutMachine.finalizer])
        #expect(world.claim == .held(payoutName: "session-1", payoutUID: "00000000-0000-0000-0000-000000000001"))
        world.finishJob("accepted", exitCode: 0, detail: "broadcast accepted")
        world.settle()
        #expect(world.status?.phase == .confirming)
        #expect(world.status?.attempts?.last?.job == AttemptJobResult(outcome: "accepted", exitCode: 0, detail: "broadcast accepted",
                                                                      finishedAt: world.status?.attempts?.last?.job?.finishedAt))

        world.receipts[attempt.txID] = paidReceipt(world.payout, txID: attempt.txID, block: 2000, fee: 1234)
        world.settle()
        #expect(world.phases == [.pending, .prepared, .broadcasting, .confirming, .completed])
        #expect(world.status?.txID == attempt.txID)
        #expect(world.status?.confirmation?.block == 2000)
        #expect(world.status?.confirmation?.fee == (currency == .usdt ? 1234 : 0))
        #expect(world.status?.attempts?.last?.outcome == "Confirmed")
        #expect(world.condition("Ready")?.status == .true)
        #expect(world.condition("Ready")?.reason == "Completed")
        #expect(world.condition("Reconciling")?.status == .false)
        #expect(world.condition("Stalled")?.status == .false)
        #expect(world.payout.metadata.finalizers?.isEmpty ?? true, "the finalizer goes once the payout is terminal")
        #expect(world.jobsCreated.count == 1)
        #expect(Set(world.events.map(\.reason)).isSuperset(of: ["ClaimingSession", "Prepared", "JobCreated", "Broadcasting", "Confirming", "Completed"]))
    }

    @Test func phaseTransitionTimeMovesOnlyWhenThePhaseChanges() throws {
        var world = World(makePayout())
        world.settle()
        let broadcasting = try #require(world.status?.phaseTransitionTime)
        world.step()
        world.step()
        #expect(world.status?.phaseTransitionTime == broadcasting, "deciding again changes nothing")
        world.finishJob("accepted", exitCode: 0)
        world.settle()
        #expect(world.status?.phase == .confirming)
        let confirming = try #require(world.status?.phaseTransitionTime)
        #expect(confirming > broadcasting)
        world.advanceChain(to: world.head.timestamp + 3000)
        world.settle()
        #expect(world.status?.phaseTransitionTime == confirming, "still Confirming: the chain moved, the phase did not")
    }

    @Test func aJobThatFinishedAfterItsReceiptWasSolidIsStillRecorded() throws {
        var world = World(makePayout())
        world.settle()
        let attempt = try #require(world.currentAttempt)
        world.finishJob("accepted", exitCode: 0, detail: "broadcast accepted")
        world.receipts[attempt.txID] = paidReceipt(world.payout, txID: attempt.txID)
        world.settle()
        #expect(world.phases == [.pending, .prepared, .broadcasting, .completed])
        #expect(world.status?.attempts?.last?.job?.outcome == "accepted")
        #expect(world.status?.attempts?.last?.outcome == "Confirmed")
        #expect(world.events.contains { $0.reason == "Confirming" && $0.note.contains("finished: accepted") })
    }

    @Test func anIdlePayoutWritesNothing() throws {
        var world = World(makePayout())
        world.settle()
        world.settle()
        world.finishJob("accepted", exitCode: 0)
        world.settle()
        let txID = try #require(world.currentAttempt?.txID)
        world.receipts[txID] = paidReceipt(world.payout, txID: txID)
        world.settle()
        let writes = world.statusWrites
        for _ in 0..<5 {
            let decision = world.step()
            #expect(!decision.writes && decision.actions.isEmpty && decision.requeueAfter == nil)
        }
        #expect(world.statusWrites == writes)
        #expect(world.chainReads.last == .solidView(txID: txID), "a completed payout reads no chain")
        let reads = world.chainReads.count
        world.step()
        #expect(world.chainReads.count == reads)
    }

    @Test func lastTransitionTimeMovesOnlyWhenAConditionFlips() throws {
        var world = World(makePayout())
        world.settle()
        let readyAt = try #require(world.condition("Ready")?.lastTransitionTime)
        let reconcilingAt = try #require(world.condition("Reconciling")?.lastTransitionTime)
        world.settle()  // Broadcasting: reasons change, statuses do not
        world.finishJob("accepted", exitCode: 0)
        world.settle()
        #expect(world.condition("Ready")?.reason == "Confirming")
        #expect(world.condition("Ready")?.lastTransitionTime == readyAt)
        #expect(world.condition("Reconciling")?.lastTransitionTime == reconcilingAt)
        let txID = try #require(world.currentAttempt?.txID)
        world.receipts[txID] = paidReceipt(world.payout, txID: txID)
        world.settle()
        #expect(world.condition("Ready")?.lastTransitionTime != readyAt)
        #expect(world.condition("Reconciling")?.lastTransitionTime != reconcilingAt)
    }

    // MARK: the order of writes

    @Test func theJobComesOnlyAfterThePreparedAttemptIsPersisted() throws {
        var world = World(makePayout())
        world.claim = .held(payoutName: "session-1", payoutUID: "00000000-0000-0000-0000-000000000001")
        world.payout.metadata.finalizers = [PayoutMachine.finalizer]
        let preparing = PayoutMachine.decide(world.input(chain: SolidChainView(head: world.head)))
        let status = try #require(preparing.status)
        #expect(preparing.job == nil, "the decision that prepares creates no Job")
        #expect(preparing.resourceVersion == "1")
        let attempt = try #require(status.attempts?.first)
        #expect(attempt.attempt == 1 && attempt.jobName == "payout-session-1-1" && attempt.referenceBlock == 1000)
        let raw = try RawTransaction.decode(try #require([UInt8](hex: attempt.rawDataHex)))
        #expect(raw.txID.hex == attempt.txID)
        #expect(raw.expiration == world.head.timestamp + defaultSettings.expirationWindow)

        // The write is lost (a crash, or a 409): the next decision prepares again, still no Job.
        let again = PayoutMachine.decide(world.input(chain: SolidChainView(head: world.head)))
        #expect(again.job == nil)
        #expect(again.status?.attempts?.count == 1)

        world.apply(preparing)
        let next = PayoutMachine.decide(world.input(chain: SolidChainView(head: world.head, txID: attempt.txID)))
        let job = try #require(next.job)
        #expect(next.status == nil, "creating the Job writes no status")
        let command = job[path: "spec", "template", "spec", "containers"]?[0]?["command"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(command.contains(attempt.rawDataHex) && command.contains(attempt.txID))
    }

    @Test func aJobCreatedTwiceAfterACrashIsStillOneJob() throws {
        var world = World(makePayout())
        world.claim = .held(payoutName: "session-1", payoutUID: "00000000-0000-0000-0000-000000000001")
        world.payout.metadata.finalizers = [PayoutMachine.finalizer]
        world.step()  // prepared
        let attempt = try #require(world.currentAttempt)
        #expect(world.step().job != nil)
        // The operator crashed after creating the Job, and restarted before it reached the cache.
        world.jobs[attempt.jobName] = nil
        let decision = world.step()
        #expect(decision.job != nil, "asks for the Job again (AlreadyExists is fine)")
        #expect(world.jobsCreated.count == 1)
        world.jobs[attempt.jobName] = .active
        world.settle()
        #expect(world.status?.phase == .broadcasting)
        #expect(world.payout.status?.attempts?.count == 1)
    }

    @Test func aDecisionThatNeedsTheChainDoesNothingElse() {
        var world = World(makePayout())
        world.claim = .held(payoutName: "session-1", payoutUID: "00000000-0000-0000-0000-000000000001")
        world.payout.metadata.finalizers = [PayoutMachine.finalizer]
        #expect(PayoutMachine.decide(world.input()) == PayoutDecision(chainNeed: .solidHead))
        world.step()
        let txID = world.currentAttempt?.txID ?? ""
        #expect(PayoutMachine.decide(world.input()) == PayoutDecision(chainNeed: .solidView(txID: txID)))
        // A view of another txID is not evidence about this one.
        #expect(PayoutMachine.decide(world.input(chain: SolidChainView(head: world.head, txID: String(repeating: "0", count: 64))))
                == PayoutDecision(chainNeed: .solidView(txID: txID)))
    }

    // MARK: new attempts only on proof

    @Test(arguments: [("notSent", 3), ("maybeSent", 4), ("accepted", 0)])
    func aFinishedJobIsNeverProofThatTheTransactionCannotLand(outcome: String, exitCode: Int) throws {
        var world = World(makePayout())
        world.settle()
        let attempt = try #require(world.currentAttempt)
        world.finishJob(outcome, exitCode: exitCode, detail: "the node said TRANSACTION_EXPIRATION_ERROR")
        let deadline = attempt.expiration + defaultSettings.expirationMargin
        for time in [attempt.expiration - 1, attempt.expiration, deadline - 3000, deadline - 1] {
            world.advanceChain(to: time)
            world.settle()
            #expect(world.status?.phase == .confirming, "at chain time \(time)")
            #expect(world.status?.attempts?.count == 1, "at chain time \(time)")
        }
        #expect(world.jobsCreated.count == 1)
    }

    @Test func theOperatorsClockNeverEndsAnAttempt() throws {
        var world = World(makePayout())
        world.settle()
        let attempt = try #require(world.currentAttempt)
        world.tick = 3000  // fifty minutes later by the operator's clock; the chain has not moved
        world.settle()
        #expect(world.currentAttempt == attempt)
        #expect(world.status?.attempts?.count == 1)
    }

    @Test func aSolidHeadPastExpirationPlusMarginWithTheTxIDAbsentStartsTheNextAttempt() throws {
        var world = World(makePayout())
        world.settle()
        let first = try #require(world.currentAttempt)
        world.advanceChain(to: first.expiration + defaultSettings.expirationMargin)
        world.settle()
        let attempts = try #require(world.status?.attempts)
        #expect(attempts.count == 2)
        #expect(attempts[0].outcome == "Expired")
        #expect(attempts[0].outcomeMessage?.contains("can never land") == true)
        #expect(attempts[1].txID != first.txID)
        #expect(attempts[1].jobName == "payout-session-1-2")
        #expect(attempts[1].referenceBlock == world.head.number)
        #expect(world.status?.txID == attempts[1].txID)
        #expect(world.jobsCreated.count == 2)
        #expect(world.events.contains { $0.reason == "AttemptExpired" })
    }

    @Test func aFailedReceiptStartsTheNextAttempt() throws {
        var world = World(makePayout())
        world.settle()
        let first = try #require(world.currentAttempt)
        var reverted = paidReceipt(world.payout, txID: first.txID)
        reverted.info.receiptResult = "REVERT"
        reverted.info.result = "FAILED"
        reverted.info.logs = []
        world.receipts[first.txID] = reverted
        world.advanceChain(to: reverted.info.blockTimestamp + 60_000)  // solid past its block
        world.settle()
        #expect(world.status?.attempts?.first?.outcome == "FailedOnChain")
        #expect(world.status?.attempts?.count == 2)
        #expect(world.status?.attempts?.last?.txID != first.txID)
        #expect(world.status?.phase == .broadcasting)
    }

    @Test func theNextAttemptIsNeverTheSameTransactionAgain() throws {
        var world = World(makePayout())
        world.settle()
        let first = try #require(world.currentAttempt)
        var reverted = paidReceipt(world.payout, txID: first.txID)
        reverted.info.receiptResult = "REVERT"
        world.receipts[first.txID] = reverted
        world.settle()  // a stale solid head: the same reference block would give the same txID
        #expect(world.status?.attempts?.count == 1)
        #expect(world.status?.attempts?.first?.outcome == "FailedOnChain")
        #expect(world.condition("Ready")?.reason == "AwaitingSolidBlock")
        world.advanceChain(to: world.head.timestamp + 3000)
        world.settle()
        #expect(world.status?.attempts?.count == 2)
        #expect(Set(world.status?.attempts?.map(\.txID) ?? []).count == 2)
    }

    @Test func aReceiptPayingSomeoneElseIsNotAConfirmation() throws {
        var world = World(makePayout())
        world.settle()
        let first = try #require(world.currentAttempt)
        var wrong = paidReceipt(world.payout, txID: first.txID)
        wrong.info.logs[0].data = ABI.word(Int64(1))
        world.receipts[first.txID] = wrong
        world.advanceChain(to: wrong.info.blockTimestamp + 60_000)
        world.settle()
        #expect(world.status?.phase != .completed)
        #expect(world.status?.attempts?.first?.outcome == "FailedOnChain")
    }

    @Test func attemptsAreCapped() throws {
        var world = World(makePayout())
        world.settings.maxAttempts = 2
        world.settle()
        for _ in 0..<2 {
            let attempt = try #require(world.currentAttempt)
            world.advanceChain(to: attempt.expiration + defaultSettings.expirationMargin + 1)
            world.settle()
        }
        #expect(world.status?.phase == .failed)
        #expect(world.status?.attempts?.count == 2)
        #expect(world.status?.attempts?.allSatisfy { $0.outcome == "Expired" } == true)
        #expect(world.condition("Ready")?.reason == "AttemptsExhausted")
        #expect(world.condition("Stalled")?.status == .true)
        #expect(world.jobsCreated.count == 2)
        #expect(world.payout.metadata.finalizers?.isEmpty ?? true)
    }

    // MARK: approval

    @Test func atOrAboveTheThresholdThePayoutWaitsForAnApproval() throws {
        for amount in ["1000", "2500.5"] {
            var world = World(makePayout(amount: amount))
            world.settle()
            #expect(world.status?.phase == .awaitingApproval, "\(amount)")
            #expect(world.jobsCreated.isEmpty && world.currentAttempt == nil)
            #expect(world.status?.message?.contains("TronPayoutApproval") == true)
            #expect(world.condition("Reconciling")?.status == .true)
            #expect(!world.step().writes, "waiting writes nothing")
        }
        var below = World(makePayout(amount: "999.999999"))
        below.settle()
        #expect(below.status?.phase == .broadcasting)
    }

    @Test func anApprovalLetsItProceedAndRecordsTheApprover() throws {
        var world = World(makePayout(amount: "5000"))
        world.settle()
        world.approvals = [makeApproval("ok", approver: "alice@treasury")]
        world.settle()
        #expect(world.status?.phase == .broadcasting)
        #expect(world.status?.approval == PayoutApprovalRecord(name: "ok", decision: .approved, approver: "alice@treasury", reason: "checked",
                                                                 decidedAt: "2026-07-01T10:05:00Z"))
        #expect(world.jobsCreated.count == 1)
    }

    @Test func aRejectionIsTerminalAndWinsOverApprovals() throws {
        var world = World(makePayout(amount: "5000"))
        world.approvals = [makeApproval("yes"), makeApproval("no", decision: .rejected, approver: "bob", reason: "refunded",
                                                             creationTimestamp: "2026-07-01T10:06:00Z")]
        world.settle()
        #expect(world.status?.phase == .rejected)
        #expect(world.status?.approval?.approver == "bob")
        #expect(world.condition("Stalled")?.status == .true)
        #expect(world.jobsCreated.isEmpty && world.currentAttempt == nil)
        world.approvals = [makeApproval("yes-again", creationTimestamp: "2026-07-01T10:09:00Z")]
        world.settle()
        #expect(world.status?.phase == .rejected, "Rejected is terminal")
    }

    @Test func approvalsForAnotherPayoutObjectDoNotCount() throws {
        var world = World(makePayout(amount: "5000"))
        world.approvals = [
            makeApproval("other-name", payout: "session-2"),
            makeApproval("other-uid", uid: "00000000-0000-0000-0000-000000000009"),
            makeApproval("too-old", creationTimestamp: "2026-07-01T09:00:00Z"),
            makeApproval("bad", decision: .rejected, reason: nil),
        ]
        world.settle()
        #expect(world.status?.phase == .awaitingApproval)
        let message = world.status?.message ?? ""
        #expect(message.contains("other-uid") && message.contains("too-old") && message.contains("bad"), "\(message)")
        world.approvals.append(makeApproval("bound", uid: "00000000-0000-0000-0000-000000000001", creationTimestamp: "2026-07-01T09:00:00Z"))
        world.settle()
        #expect(world.status?.phase == .broadcasting, "a payoutUID binds even an older approval")
    }

    @Test func aRejectionBeforeTheJobExistsStopsThePayout() throws {
        var world = World(makePayout())
        world.claim = .held(payoutName: "session-1", payoutUID: "00000000-0000-0000-0000-000000000001")
        world.payout.metadata.finalizers = [PayoutMachine.finalizer]
        world.step()  // prepared, Job not yet created
        let attempt = try #require(world.currentAttempt)
        world.approvals = [makeApproval("stop", decision: .rejected, reason: "fraud suspected")]
        world.settle()
        #expect(world.jobsCreated.isEmpty)
        #expect(world.condition("Ready")?.reason == "JobHeld")
        world.advanceChain(to: attempt.expiration + defaultSettings.expirationMargin)
        world.settle()
        #expect(world.status?.phase == .rejected)
        #expect(world.jobsCreated.isEmpty)
    }

    // MARK: sessions

    @Test func aSecondPayoutForASessionIsRefused() {
        var second = World(makePayout(name: "session-1-again", uid: "00000000-0000-0000-0000-000000000002",
                                      creationTimestamp: "2026-07-01T10:01:00Z"))
        second.peers = [SessionPeer(name: "session-1", uid: "00000000-0000-0000-0000-000000000001", creationTimestamp: created, phase: .completed, attempts: 1)]
        second.settle()
        #expect(second.status?.phase == .failed)
        #expect(second.condition("Ready")?.reason == "DuplicateSession")
        #expect(second.claim == .absent && second.jobsCreated.isEmpty)

        // Not yet in the cache, but the claim is the other payout's: refused all the same.
        var racing = World(makePayout(name: "session-1-again", uid: "00000000-0000-0000-0000-000000000002"))
        racing.claim = .held(payoutName: "session-1", payoutUID: "00000000-0000-0000-0000-000000000001")
        racing.settle()
        #expect(racing.condition("Ready")?.reason == "DuplicateSession")
        #expect(racing.jobsCreated.isEmpty)
    }

    @Test func theClaimHolderGoesOnAndRefusedPeersDoNotHoldASession() {
        var holder = World(makePayout(creationTimestamp: "2026-07-01T10:01:00Z"))
        holder.claim = .held(payoutName: "session-1", payoutUID: "00000000-0000-0000-0000-000000000001")
        holder.peers = [SessionPeer(name: "older", uid: "u-older", creationTimestamp: created)]
        holder.settle()
        #expect(holder.status?.phase == .broadcasting)

        var after = World(makePayout(creationTimestamp: "2026-07-01T10:01:00Z"))
        after.peers = [SessionPeer(name: "typo", uid: "u-typo", creationTimestamp: created, phase: .failed, attempts: 0)]
        after.settle()
        #expect(after.status?.phase == .broadcasting, "an invalid older payout never held the session")
    }

    // MARK: the signer Secret

    // The operator reads no Secrets where signing keys live: the Job's pod finds out (it
    // mounts the Secret as optional, and lucid-payout reports `signerMissing` unsigned).

    @Test func theMachineNeedsNothingOfTheSecretToPrepare() throws {
        var world = World(makePayout())
        world.settle()
        #expect(world.status?.phase == .broadcasting, "prepared and its Job created without knowing whether the Secret exists")
        let volume = try #require(world.jobsCreated.first?[path: "spec", "template", "spec", "volumes"]?.arrayValue?.first)
        #expect(volume[path: "secret", "optional"] == true, "so a missing Secret starts the pod, which reports it")
    }

    @Test func aMissingSignerSecretStallsTheAttemptUnpaidAndTheNextOneIsMadeOnlyWhenTheChainProvesItCannotLand() throws {
        var world = World(makePayout())
        world.settle()
        let first = try #require(world.currentAttempt)
        world.finishJob(TerminationReport.signerMissing, exitCode: 64, detail: "no signer key at /var/run/lucid/signer/key")
        world.settle()
        #expect(world.status?.phase == .confirming)
        #expect(world.condition("Ready")?.status == .false)
        #expect(world.condition("Ready")?.reason == "SignerSecretMissing")
        #expect(world.condition("Stalled")?.status == .true)
        let message = world.status?.message ?? ""
        #expect(message.contains("lucid-payment/payout-signer") && message.contains("nothing was signed"), "\(message)")
        #expect(world.events.contains { $0.type == .warning && $0.reason == "SignerSecretMissing" })
        #expect(world.status?.attempts?.last?.job?.outcome == "signerMissing")
        #expect(!world.step().writes, "stalled and idle: nothing written again")

        // The report is a claim, not a proof: a second pod of that Job could have had the key.
        // So no new transaction before the solid chain is past expiration + margin.
        world.advanceChain(to: first.expiration + defaultSettings.expirationMargin - 3000)
        world.settle()
        #expect(world.status?.attempts?.count == 1)
        world.advanceChain(to: first.expiration + defaultSettings.expirationMargin)
        world.settle()
        let second = try #require(world.currentAttempt)
        #expect(second.attempt == 2 && second.txID != first.txID)
        #expect(world.status?.attempts?.first?.outcome == "Expired")
        #expect(world.jobsCreated.count == 2)
        #expect(world.condition("Stalled")?.status == .false, "the new attempt's Job is running")

        // The Secret was created meanwhile: the second Job pays.
        world.finishJob("accepted", exitCode: 0)
        world.receipts[second.txID] = paidReceipt(world.payout, txID: second.txID)
        world.settle()
        #expect(world.status?.phase == .completed)
        #expect(world.status?.confirmation?.txID == second.txID)
    }

    @Test func aSignerSecretThatNeverComesUsesUpTheAttempts() throws {
        var world = World(makePayout())
        world.settings.maxAttempts = 2
        for _ in 1...2 {
            world.settle()
            let attempt = try #require(world.currentAttempt)
            world.finishJob(TerminationReport.signerMissing, exitCode: 64)
            world.settle()
            #expect(world.condition("Ready")?.reason == "SignerSecretMissing")
            world.advanceChain(to: attempt.expiration + defaultSettings.expirationMargin)
        }
        world.settle()
        #expect(world.status?.phase == .failed)
        #expect(world.condition("Ready")?.reason == "AttemptsExhausted")
        #expect(world.status?.message?.contains("2 attempts ended without paying") == true, "\(world.status?.message ?? "")")
        #expect(world.jobsCreated.count == 2)
    }

    // MARK: deletion and conflicts

    @Test func deletionWaitsUntilTheTransactionCanNoLongerLand() throws {
        var world = World(makePayout())
        world.claim = .held(payoutName: "session-1", payoutUID: "00000000-0000-0000-0000-000000000001")
        world.payout.metadata.finalizers = [PayoutMachine.finalizer]
        world.step()
        let attempt = try #require(world.currentAttempt)
        world.payout.metadata.deletionTimestamp = "2026-07-01T11:00:00Z"
        world.settle()
        #expect(world.jobsCreated.isEmpty, "no Job for a payout being deleted")
        #expect(world.payout.metadata.finalizers == [PayoutMachine.finalizer], "the finalizer stays while the txID may land")
        world.advanceChain(to: attempt.expiration + defaultSettings.expirationMargin)
        world.settle()
        #expect(world.status?.phase == .failed)
        #expect(world.condition("Ready")?.reason == "Deleted")
        #expect(world.status?.attempts?.count == 1)
        #expect(world.payout.metadata.finalizers?.isEmpty ?? true)
    }

    @Test func aPayoutDeletedBeforeAnyAttemptLetsGo() {
        var world = World(makePayout())
        world.payout.metadata.finalizers = [PayoutMachine.finalizer]
        world.payout.metadata.deletionTimestamp = "2026-07-01T11:00:00Z"
        let decision = world.step()
        #expect(decision.actions == [.removeFinalizer])
    }

    @Test func aJobOfAnotherObjectIsNeitherReadNorReplaced() throws {
        var world = World(makePayout())
        world.claim = .held(payoutName: "session-1", payoutUID: "00000000-0000-0000-0000-000000000001")
        world.payout.metadata.finalizers = [PayoutMachine.finalizer]
        world.step()
        let attempt = try #require(world.currentAttempt)
        world.jobs[attempt.jobName] = .foreign(ownerUID: "old-uid")
        world.settle()
        #expect(world.condition("Ready")?.reason == "JobConflict")
        #expect(world.condition("Stalled")?.status == .true)
        #expect(world.jobsCreated.isEmpty)
    }

    @Test func aPreparedTransactionThatNoLongerMatchesTheSpecGetsNoJob() throws {
        var world = World(makePayout())
        world.claim = .held(payoutName: "session-1", payoutUID: "00000000-0000-0000-0000-000000000001")
        world.payout.metadata.finalizers = [PayoutMachine.finalizer]
        world.step()
        // A server without CEL let someone change the amount after preparation.
        world.payout.spec.amount = "999"
        world.settle()
        #expect(world.jobsCreated.isEmpty)
        #expect(world.condition("Ready")?.reason == "JobHeld")
        #expect(world.status?.message?.contains("amount") == true)
    }
}
