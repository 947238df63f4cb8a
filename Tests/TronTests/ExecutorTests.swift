import FakeTronGrid
import Foundation
import HTTP
import LoopbackServer
import Testing
import Tron

let signerKey = try! PrivateKey(hex: "8e812436a0e3323166e1f0e8ba79e19e217b2c4a53c970d4cca0cfb1078979df")
let recipient = "TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zru"

/// Prepares an order the way the operator will: from the chain's latest solid block.
func prepare(_ fake: FakeTronGrid, _ client: TronGridClient, amount: String = "12.5", currency: String = "USDT",
             expirationWindow: Int64 = TransactionBuilder.defaultExpirationWindow) async throws -> (BroadcastOrder, PayoutIntent) {
    let intent = try PayoutIntent(recipient: recipient, amount: amount, currency: currency, network: "nile")
    let solid = try await client.nowBlock(solid: true)
    let raw = TransactionBuilder.build(intent, owner: signerKey.address, reference: solid, expirationWindow: expirationWindow)
    return (BroadcastOrder(rawDataHex: raw.encoded().hex, txID: raw.txID.hex, intent: intent), intent)
}


@Suite struct ExecutorTests {
    @Test(arguments: ["USDT", "TRX"])
    func happyPathConfirms(currency: String) async throws {
        let http = try HTTPClient()
        defer { http.shutdown() }
        try await FakeTronGrid.run { fake in
            let client = TronGridClient(baseURL: fake.baseURL, http: http)
            let (order, intent) = try await prepare(fake, client, currency: currency)
            let outcome = await PayoutExecutor(client: client).broadcast(order, key: signerKey)
            #expect(outcome.exitCode == 0, "\(outcome)")
            try await waitUntil(.seconds(30)) { fake.isSolid(order.txID) }
            let info = try #require(try await client.transactionInfo(id: order.txID, solid: true))
            let ret = try await client.transaction(id: order.txID, solid: true).contractRet
            guard case .confirmed(let block, _) = intent.verdict(for: info, contractRet: ret, owner: signerKey.address) else {
                Issue.record("not confirmed: \(intent.verdict(for: info, contractRet: ret, owner: signerKey.address))")
                return
            }
            #expect(block > 0)
            #expect(fake.broadcasts(of: order.txID) == 1)
        }
    }

    @Test func aRevertedTransferIsAFailedVerdict() async throws {
        let http = try HTTPClient()
        defer { http.shutdown() }
        try await FakeTronGrid.run { fake in
            fake.setFaults { $0.revert = true }
            let client = TronGridClient(baseURL: fake.baseURL, http: http)
            let (order, intent) = try await prepare(fake, client)
            #expect(await PayoutExecutor(client: client).broadcast(order, key: signerKey).exitCode == 0)
            try await waitUntil(.seconds(30)) { fake.isSolid(order.txID) }
            let info = try #require(try await client.transactionInfo(id: order.txID, solid: true))
            #expect(intent.verdict(for: info, contractRet: "REVERT", owner: signerKey.address) == .failed(reason: "receipt.result is REVERT"))
        }
    }

    @Test func aDuplicateCountsAsAccepted() async throws {
        let http = try HTTPClient()
        defer { http.shutdown() }
        // Slow blocks: the first broadcast is still pending when the second run asks.
        try await FakeTronGrid.run(blockInterval: .seconds(30)) { fake in
            let client = TronGridClient(baseURL: fake.baseURL, http: http)
            let (order, _) = try await prepare(fake, client)
            #expect(await PayoutExecutor(client: client).broadcast(order, key: signerKey).exitCode == 0)
            let again = await PayoutExecutor(client: client).broadcast(order, key: signerKey)
            #expect(again.exitCode == 0)
            #expect(again.detail.contains("DUP_TRANSACTION_ERROR"))
        }
    }

    @Test func sigErrorIsDefinitelyNotSent() async throws {
        let http = try HTTPClient()
        defer { http.shutdown() }
        try await FakeTronGrid.run { fake in
            fake.setFaults { $0.sigError = true }
            let client = TronGridClient(baseURL: fake.baseURL, http: http)
            let (order, _) = try await prepare(fake, client)
            let outcome = await PayoutExecutor(client: client).broadcast(order, key: signerKey)
            #expect(outcome.exitCode == 3)
            #expect(outcome.detail.contains("SIGERROR"))
        }
    }

    @Test func anExpiredTransactionIsRefusedBeforeBroadcast() async throws {
        let http = try HTTPClient()
        defer { http.shutdown() }
        try await FakeTronGrid.run { fake in
            let client = TronGridClient(baseURL: fake.baseURL, http: http)
            let (order, _) = try await prepare(fake, client, expirationWindow: 1)
            fake.advance(by: .seconds(1))  // the head well past the expiration, however slow this machine is
            let outcome = await PayoutExecutor(client: client).broadcast(order, key: signerKey)
            #expect(outcome.exitCode == 3)
            #expect(outcome.detail.contains("expired"))
            #expect(fake.broadcasts(of: order.txID) == 0)
        }
    }

    @Test func aMismatchIsRefusedBeforeSigning() async throws {
        let http = try HTTPClient()
        defer { http.shutdown() }
        try await FakeTronGrid.run { fake in
            let client = TronGridClient(baseURL: fake.baseURL, http: http)
            let (order, _) = try await prepare(fake, client, amount: "12.5")
            var wrongAmount = order
            wrongAmount.intent = try PayoutIntent(recipient: recipient, amount: "125", currency: "USDT", network: "nile")
            var wrongRecipient = order
            wrongRecipient.intent = try PayoutIntent(recipient: "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC", amount: "12.5", currency: "USDT", network: "nile")
            var wrongTxID = order
            wrongTxID.txID = String(repeating: "ab", count: 32)
            for (bad, word) in [(wrongAmount, "amount"), (wrongRecipient, "recipient"), (wrongTxID, "txID")] {
                let outcome = await PayoutExecutor(client: client).broadcast(bad, key: signerKey)
                #expect(outcome.exitCode == 3)
                #expect(outcome.detail.contains(word), "\(outcome.detail)")
                if case .failure = PayoutExecutor.sign(bad, key: signerKey) {} else { Issue.record("signed a mismatching order") }
            }
            let otherKey = try PrivateKey(hex: String(repeating: "0", count: 63) + "2")
            #expect(await PayoutExecutor(client: client).broadcast(order, key: otherKey).detail.contains("owner"))
            #expect(fake.broadcasts(of: order.txID) == 0)
        }
    }

    @Test func unavailableBurstsAreRetried() async throws {
        let http = try HTTPClient()
        defer { http.shutdown() }
        try await FakeTronGrid.run { fake in
            let client = TronGridClient(baseURL: fake.baseURL, http: http, baseDelay: .milliseconds(5))
            let (order, _) = try await prepare(fake, client)
            fake.setFaults { $0.unavailable = 3 }
            #expect(await PayoutExecutor(client: client).broadcast(order, key: signerKey).exitCode == 0)
        }
    }
}

/// A 2 s client timeout against a stalling node: run alone and serially (`hack/test.sh`), so a
/// loaded machine cannot time out the requests before the stall.
@Suite struct ExecutorTimingTests {
    @Test func aTimeoutAfterTheNodeAcceptedNeverLeadsToASecondBroadcast() async throws {
        let http = try HTTPClient()
        defer { http.shutdown() }
        try await FakeTronGrid.run { fake in
            let client = TronGridClient(baseURL: fake.baseURL, http: http)
            let (order, _) = try await prepare(fake, client)
            // The node will take the transaction but answer only after the executor gave up waiting.
            fake.setFaults { $0.acceptThenStall = .seconds(8) }
            let impatient = TronGridClient(baseURL: fake.baseURL, http: http, timeout: .seconds(2))
            let first = await PayoutExecutor(client: impatient).broadcast(order, key: signerKey)
            // The node took it but never answered; the executor asks the chain before saying anything.
            #expect(first.exitCode == 0 || first.exitCode == 4, "\(first)")
            try await waitUntil(.seconds(5)) { try await client.transaction(id: order.txID).known }
            let second = await PayoutExecutor(client: client).broadcast(order, key: signerKey)
            #expect(second == .accepted(detail: "txID \(order.txID) is already on chain; not broadcast again"))
            #expect(fake.broadcasts(of: order.txID) == 1)
        }
    }
}
