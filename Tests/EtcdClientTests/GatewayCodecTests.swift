@testable import EtcdClient
import Testing
import YAML

/// The gateway's JSON: what the client sends and how it reads etcd's answers (shapes taken from
/// etcd 3.4's gateway).
@Suite struct GatewayCodecTests {
    @Test func prefixesEndAtTheNextKey() {
        #expect(KeyRange.prefix("/a/") == KeyRange(start: Array("/a/".utf8), end: Array("/a0".utf8)))
        #expect(KeyRange.prefixEnd([0x61, 0xff, 0xff]) == [0x62])
        #expect(KeyRange.prefixEnd([0xff, 0xff]) == [0])
        #expect(KeyRange.prefix("") == .all)
        #expect(KeyRange.from("/m") == KeyRange(start: Array("/m".utf8), end: [0]))
    }

    @Test func rangesContainWhatTheyShould() {
        let p = KeyRange.prefix("/a/")
        #expect(p.contains(Array("/a/x".utf8)))
        #expect(p.contains(Array("/a/".utf8)))
        #expect(!p.contains(Array("/a0".utf8)))
        #expect(!p.contains(Array("/a".utf8)))
        #expect(KeyRange.key("/k").contains(Array("/k".utf8)))
        #expect(!KeyRange.key("/k").contains(Array("/k/1".utf8)))
        #expect(KeyRange.from("/m").contains([0xff, 0xff]))
        #expect(KeyRange.all.contains([0]))
    }

    @Test func requestsUseBase64KeysAndDecimalStringsForInt64() {
        let range = GatewayCodec.encode(RangeRequest(.prefix("/a/"), limit: 5, revision: 9_007_199_254_740_993, sortOrder: .descending,
                                                     sortTarget: .modRevision, serializable: true, keysOnly: true))
        #expect(range == [
            "key": "L2Ev", "range_end": "L2Ew", "limit": "5", "revision": "9007199254740993",
            "sort_order": "DESCEND", "sort_target": "MOD", "serializable": true, "keys_only": true,
        ])
        #expect(GatewayCodec.encode(RangeRequest(.key("/k"))) == ["key": "L2s="])
        #expect(GatewayCodec.encode(PutRequest(key: "/k", value: [0, 255], lease: 7, prevKV: true))
                == ["key": "L2s=", "value": "AP8=", "lease": "7", "prev_kv": true])
        #expect(GatewayCodec.encode(DeleteRequest(.prefix("/d"), prevKV: true)) == ["key": "L2Q=", "range_end": "L2U=", "prev_kv": true])
    }

    @Test func comparisonsNameTheirTargetAndOperator() {
        #expect(GatewayCodec.encode(Compare.modRevision("/k", .equal, 0)) == ["key": "L2s=", "result": "EQUAL", "target": "MOD", "mod_revision": "0"])
        #expect(GatewayCodec.encode(Compare.version("/k", .greater, 2)) == ["key": "L2s=", "result": "GREATER", "target": "VERSION", "version": "2"])
        #expect(GatewayCodec.encode(Compare.createRevision("/k", .less, 3)) == ["key": "L2s=", "result": "LESS", "target": "CREATE", "create_revision": "3"])
        #expect(GatewayCodec.encode(Compare.value("/k", .notEqual, [1])) == ["key": "L2s=", "result": "NOT_EQUAL", "target": "VALUE", "value": "AQ=="])
        #expect(GatewayCodec.encode(Compare.lease("/k", .equal, 4)) == ["key": "L2s=", "result": "EQUAL", "target": "LEASE", "lease": "4"])
    }

    @Test func transactionsCarryBothBranches() {
        let txn = GatewayCodec.txn(compare: [.modRevision("/k", .equal, 0)], success: [.put("/k", [1]), .delete("/j")], failure: [.get("/k")])
        #expect(txn["success"]?[0]?["request_put"] == ["key": "L2s=", "value": "AQ=="])
        #expect(txn["success"]?[1]?["request_delete_range"] == ["key": "L2o="])
        #expect(txn["failure"]?[0]?["request_range"] == ["key": "L2s="])
        #expect(txn["compare"]?.arrayValue?.count == 1)
    }

    @Test func rangeAnswersDecodeAndMissingFieldsAreZero() throws {
        let json = try JSON.parse(#"""
            {"header":{"cluster_id":"14841639068965178418","member_id":"10276657743932975437","revision":"4","raft_term":"2"},
             "kvs":[{"key":"L2EvMQ==","create_revision":"2","mod_revision":"2","version":"1","value":"djE="},
                    {"key":"L2EvMg==","create_revision":"3","mod_revision":"4","version":"2","lease":"7587862071364785993"}],
             "more":true,"count":"2"}
            """#)
        let response = try GatewayCodec.rangeResponse(json)
        #expect(response.header == ResponseHeader(clusterID: 14_841_639_068_965_178_418, memberID: 10_276_657_743_932_975_437, revision: 4, raftTerm: 2))
        #expect(response.kvs == [
            KeyValue(key: Array("/a/1".utf8), value: Array("v1".utf8), createRevision: 2, modRevision: 2, version: 1),
            KeyValue(key: Array("/a/2".utf8), value: [], createRevision: 3, modRevision: 4, version: 2, lease: 7_587_862_071_364_785_993),
        ])
        #expect(response.more && response.count == 2)
        let empty = try GatewayCodec.rangeResponse(try JSON.parse(#"{"header":{"revision":"9"}}"#))
        #expect(empty.kvs.isEmpty && !empty.more && empty.count == 0 && empty.header.revision == 9)
    }

    @Test func transactionAnswersKeepTheOrderOfTheirOperations() throws {
        let json = try JSON.parse(#"""
            {"header":{"revision":"5"},"responses":[{"response_range":{"header":{"revision":"5"},
             "kvs":[{"key":"L2EvMw==","create_revision":"5","mod_revision":"5","version":"1","value":"eA=="}],"count":"1"}},
             {"response_put":{"header":{"revision":"5"}}},{"response_delete_range":{"header":{"revision":"5"},"deleted":"1"}}]}
            """#)
        let txn = try GatewayCodec.txnResponse(json)
        #expect(!txn.succeeded)
        guard txn.responses.count == 3, case .range(let read) = txn.responses[0], case .put = txn.responses[1],
              case .delete(let deleted) = txn.responses[2] else {
            Issue.record("unexpected responses \(txn.responses)")
            return
        }
        #expect(read.kvs.first?.valueText == "x")
        #expect(deleted.deleted == 1)
    }

    @Test func malformedAnswersAreErrorsNotCrashes() {
        #expect(throws: EtcdError.self) { try GatewayCodec.rangeResponse(try JSON.parse(#"{"kvs":[{"key":"%%%"}]}"#)) }
        #expect(throws: EtcdError.self) { try GatewayCodec.rangeResponse(try JSON.parse(#"{"header":{"revision":"x1"}}"#)) }
        #expect(throws: EtcdError.self) { try GatewayCodec.txnResponse(try JSON.parse(#"{"responses":[{"response_mystery":{}}]}"#)) }
        do {
            _ = try GatewayCodec.rangeResponse(try JSON.parse(#"{"header":{"revision":true}}"#))
            Issue.record("a boolean revision was accepted")
        } catch let error as EtcdError {
            #expect(error.code == .malformedResponse)
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func unaryErrorsKeepTheirGRPCCodeAndMeaning() {
        func failure(_ status: Int, _ body: String) -> EtcdError {
            GatewayCodec.failure(status: status, body: Array(body.utf8), endpoint: "http://e:1")
        }
        let compacted = failure(400, #"{"error":"etcdserver: mvcc: required revision has been compacted","message":"etcdserver: mvcc: required revision has been compacted","code":11}"#)
        #expect(compacted.code == .compacted && compacted.grpcCode == 11 && compacted.httpStatus == 400 && compacted.endpoint == "http://e:1")
        #expect(failure(400, #"{"error":"x","message":"etcdserver: mvcc: required revision is a future revision","code":11}"#).code == .futureRevision)
        #expect(failure(404, #"{"error":"x","message":"etcdserver: requested lease not found","code":5}"#).code == .leaseNotFound)
        #expect(failure(401, #"{"error":"x","message":"etcdserver: invalid auth token","code":16}"#).code == .unauthenticated)
        #expect(failure(400, #"{"error":"x","message":"etcdserver: user name is empty","code":3}"#).code == .unauthenticated)
        #expect(failure(400, #"{"error":"x","message":"etcdserver: authentication failed, invalid user ID or password","code":3}"#).code == .authenticationFailed)
        #expect(failure(403, #"{"error":"x","message":"etcdserver: permission denied","code":7}"#).code == .permissionDenied)
        #expect(failure(503, #"{"error":"x","message":"etcdserver: no leader","code":14}"#).code == .unavailable)
        #expect(failure(500, #"{"error":"x","message":"etcdserver: request timed out","code":4}"#).code == .timeout)
        #expect(failure(400, #"{"error":"x","message":"bad","code":3}"#).code == .invalidArgument)
        #expect(failure(400, #"{"error":"x","message":"etcdserver: mvcc: database space exceeded","code":8}"#).code == .server)
        let proxy = failure(502, "<html>bad gateway</html>")
        #expect(proxy.code == .unavailable && proxy.grpcCode == nil && proxy.message.contains("bad gateway"))
    }

    @Test func streamErrorsAndWatchMessagesDecode() throws {
        let failure = try WatchCodec.decode(try JSON.parse(#"{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}}"#))
        #expect(failure.failure == .init(grpcCode: 14, message: "etcdserver: no leader"))
        let events = try WatchCodec.decode(try JSON.parse(#"""
            {"result":{"header":{"revision":"8"},"events":[{"kv":{"key":"L2EvMg==","create_revision":"3","mod_revision":"4","version":"2","value":"djM="},
             "prev_kv":{"key":"L2EvMg==","create_revision":"3","mod_revision":"3","version":"1","value":"djI="}},
             {"type":"DELETE","kv":{"key":"L2EvMw==","mod_revision":"6"}}]}}
            """#))
        #expect(events.events.map(\.kind) == [.put, .delete])
        #expect(events.events[0].prevKV?.valueText == "v2")
        #expect(events.events[1].kv.modRevision == 6 && events.events[1].prevKV == nil)
        let canceled = try WatchCodec.decode(try JSON.parse(#"{"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"3"}}"#))
        #expect(canceled.canceled && canceled.compactRevision == 3)
        #expect(throws: EtcdError.self) { try WatchCodec.decode(try JSON.parse(#"{"result":{"events":[{"type":"MOVE","kv":{}}]}}"#)) }
        #expect(throws: EtcdError.self) { try WatchCodec.decode(try JSON.parse(#"{"something":1}"#)) }
    }

    @Test func watchRequestsAskForWhatTheOptionsSay() {
        let request = WatchCodec.createRequest(.prefix("/r/"), startRevision: 12,
                                               options: WatchOptions(prevKV: true, progressNotify: true, noPut: false, noDelete: true))
        #expect(request == ["create_request": [
            "key": "L3Iv", "range_end": "L3Iw", "start_revision": "12", "progress_notify": true, "prev_kv": true, "filters": ["NODELETE"],
        ]])
        #expect(WatchCodec.createRequest(.key("/k"), startRevision: nil, options: WatchOptions(progressNotify: false))
                == ["create_request": ["key": "L2s="]])
    }

    @Test func endpointsAreValidated() throws {
        #expect(try EtcdConfiguration(endpointList: " http://127.0.0.1:2379/ ,https://etcd:2379").validatedEndpoints()
                == ["http://127.0.0.1:2379", "https://etcd:2379"])
        for bad in ["", "etcd:2379", "ftp://x", "http://", "http://host/path"] {
            #expect(throws: EtcdError.self, "\(bad)") { try EtcdConfiguration(endpointList: bad).validatedEndpoints() }
        }
    }
}
