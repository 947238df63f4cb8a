import Foundation
import HTTP
import KubeClient
import LoopbackServer
import Testing
import YAML

/// A Secret as a server that ignores `as=PartialObjectMetadata` answers: key material included.
let wholeSecret = #"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"payout-signer","namespace":"pay","uid":"u-1","resourceVersion":"7","managedFields":[{"manager":"kubectl"}]},"type":"Opaque","data":{"key":"OGU4MTI0MzZhMGUz"},"stringData":{"key":"8e812436a0e3"}}"#
/// The same Secret as a real API server answers the metadata-only request.
let partialSecret = #"{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadata","metadata":{"name":"payout-signer","namespace":"pay","uid":"u-1","resourceVersion":"7"}}"#

@Suite struct MetadataOnlyTests {
    @Test func readsAskForPartialObjectMetadataAndReturnNothingElse() async throws {
        let seen = Seen()
        try await LoopbackServer.run(handler: { r, w in
            seen.add(r)
            if r.query["watch"] == "true" {
                try await w.start(status: 200, headers: [("Content-Type", "application/json")])
                try await w.write(Array(#"{"type":"ADDED","object":\#(wholeSecret)}"#.utf8) + [10])
                try await w.write(Array(#"{"type":"MODIFIED","object":\#(partialSecret)}"#.utf8) + [10])
                try await w.end()
            } else if r.path.hasSuffix("/secrets") {
                try await w.respond(status: 200, text: #"{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":[\#(wholeSecret)]}"#)
            } else {
                try await w.respond(status: 200, text: wholeSecret)
            }
        }) { server in
            let kube = try client(server).metadataOnly()
            #expect(kube.readsMetadataOnly)
            let one = try await kube.get(.secrets, namespace: "pay", name: "payout-signer")
            let list = try await kube.list(.secrets, namespace: "pay")
            let all = try await kube.listAll(.secrets, namespace: "pay")
            var events: [WatchEvent] = []
            for try await event in try await kube.watch(.secrets, namespace: "pay", options: WatchOptions(resourceVersion: "9")) { events.append(event) }

            let requests = seen.all
            #expect(requests[0].header("accept") == "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json")
            #expect(requests[1].header("accept") == "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json")
            #expect(requests[2].header("accept") == "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json")
            #expect(requests[3].header("accept") == "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json")
            #expect(list.resourceVersion == "9" && all.items.count == 1)
            #expect(events.map(\.type) == [.added, .modified])

            // Whatever the server sent, only apiVersion, kind and metadata come back, without managedFields.
            for object in [one] + list.items + all.items + events.map(\.object) {
                let keys = Set(object.objectValue?.keys ?? [])
                #expect(keys.isSubset(of: ["apiVersion", "kind", "metadata"]), "\(object.jsonText)")
                #expect(object[path: "metadata", "name"] == "payout-signer" && object[path: "metadata", "uid"] == "u-1")
                #expect(object[path: "metadata", "managedFields"] == nil)
                #expect(!object.jsonText.contains("OGU4MTI0") && !object.jsonText.contains("8e812436"), "key material leaked: \(object.jsonText)")
            }
            #expect(events[1].object["kind"] == "PartialObjectMetadata")
        }
    }

    @Test func aMetadataOnlyClientDoesNotWriteAndThePlainOneIsUnchanged() async throws {
        let seen = Seen()
        try await LoopbackServer.run(handler: { r, w in
            seen.add(r)
            try await w.respond(status: 200, text: wholeSecret)
        }) { server in
            let plain = try client(server)
            let metadata = plain.metadataOnly()
            do throws(KubeError) {
                _ = try await metadata.create(.secrets, namespace: "pay", ["metadata": ["name": "x"]])
                Issue.record("a metadata-only client wrote")
            } catch {
                #expect(error.code == .configuration)
            }
            #expect(seen.all.isEmpty, "nothing was sent")
            let whole = try await plain.get(.secrets, namespace: "pay", name: "payout-signer")
            #expect(whole[path: "data", "key"] == "OGU4MTI0MzZhMGUz")
            #expect(seen.all.last?.header("accept") == "application/json")
            #expect(!plain.readsMetadataOnly)
        }
    }
}
