import FakeTronGrid
import Foundation
import HTTP
import LoopbackServer
import Testing
import Tron

@Suite struct TronEndpointsTests {
    @Test func overridesParsePerNetwork() throws {
        let endpoints = try TronEndpoints.parse(["nile=http://127.0.0.1:8090/", "MAINNET=https://tron.example:443,shasta=http://10.0.0.5:8090"])
        #expect(endpoints.overrides == ["nile": "http://127.0.0.1:8090", "mainnet": "https://tron.example:443", "shasta": "http://10.0.0.5:8090"])
        #expect(endpoints.network("nile")?.baseURL == "http://127.0.0.1:8090")
        #expect(endpoints.network("nile")?.usdtContract == TronNetwork.nile.usdtContract)
        #expect(try TronEndpoints.parse([]).network("mainnet")?.baseURL == "https://api.trongrid.io")
        #expect(try TronEndpoints.parse([]).url(for: .shasta) == "https://api.shasta.trongrid.io")
        #expect(endpoints.network("moon") == nil)
    }

    @Test func badOverridesSayWhy() {
        for (value, words) in [("nile", "NETWORK=URL"), ("moon=http://x:1", "not one of mainnet, nile, shasta"),
                               ("nile=127.0.0.1:8090", "not an http:// or https:// URL"), ("nile=http://a:1,nile=http://b:2", "twice"),
                               ("=http://a:1", "NETWORK=URL")] {
            do {
                _ = try TronEndpoints.parse([value])
                Issue.record("accepted \(value)")
            } catch {
                #expect(error.description.contains(words), "\(value): \(error)")
            }
        }
    }
}

@Suite struct SolidChainTests {
    @Test(arguments: ["USDT", "TRX"])
    func theSolidViewShowsAReceiptOnlyOnceItsBlockIsSolid(currency: String) async throws {
        let http = try HTTPClient()
        defer { http.shutdown() }
        try await FakeTronGrid.run(blockInterval: .milliseconds(100), solidLag: 5) { fake in
            let client = TronGridClient(baseURL: fake.baseURL, apiKey: "lucid-test-key", http: http)
            let (order, intent) = try await prepare(fake, client, amount: "42.5", currency: currency)
            let before = try await client.solidView(of: order.txID)
            #expect(before.receipt == nil && before.txID == order.txID)
            // Finality held, so the transaction is seen in a block before that block is solid, however slow this machine is.
            fake.holdSolid(true)
            #expect(await PayoutExecutor(client: client).broadcast(order, key: signerKey).exitCode == 0)
            try await waitUntil(.seconds(30)) { (try await client.transaction(id: order.txID, solid: false)).known }
            #expect(try await client.solidView(of: order.txID).receipt == nil, "in a block, not yet solid")
            fake.holdSolid(false)
            try await waitUntil(.seconds(30)) { try await client.solidView(of: order.txID).receipt != nil }
            let view = try await client.solidView(of: order.txID)
            let receipt = try #require(view.receipt)
            #expect(receipt.info.blockNumber <= view.head.number)
            #expect(receipt.contractRet == "SUCCESS")
            guard case .confirmed(let block, _) = intent.verdict(for: receipt.info, contractRet: receipt.contractRet, owner: signerKey.address) else {
                Issue.record("not confirmed")
                return
            }
            #expect(block == receipt.info.blockNumber)
            let token = currency == "USDT" ? TronNetwork.nile.usdtContract : nil
            #expect(fake.transfers(to: recipient, amount: "42.5", token: token).count == 1)
            #expect(fake.transfers.count == 1)
            #expect(fake.apiKeysSeen == ["lucid-test-key"])
            #expect(try await client.solidView().txID == nil)
        }
    }

    @Test func advancingPastTheExpirationMeansTheTransactionCanNeverLand() async throws {
        let http = try HTTPClient()
        defer { http.shutdown() }
        try await FakeTronGrid.run { fake in
            let client = TronGridClient(baseURL: fake.baseURL, http: http)
            let (order, _) = try await prepare(fake, client, currency: "TRX")
            let raw = try RawTransaction.decode(try #require([UInt8](hex: order.rawDataHex)))
            fake.advance(by: .seconds(11 * 60))
            let view = try await client.solidView(of: order.txID)
            #expect(view.head.timestamp >= raw.expiration)
            #expect(view.receipt == nil)
            // lucid-payout will not send it, and the chain refuses it anyway: it can never be paid.
            let outcome = await PayoutExecutor(client: client).broadcast(order, key: signerKey)
            #expect(outcome.exitCode == 3, "\(outcome)")
            guard case .success(let (_, signed)) = PayoutExecutor.sign(order, key: signerKey) else {
                Issue.record("cannot sign")
                return
            }
            let answer = try await client.broadcastHex(signed)
            #expect(!answer.accepted && answer.code == "TRANSACTION_EXPIRATION_ERROR")
            fake.advance(by: .seconds(3))
            #expect(fake.transfers.isEmpty)
        }
    }
}
