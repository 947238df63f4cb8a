import ControllerRuntime
import Testing
import YAML

@Suite struct FinalizersTests {
    let object: JSON = ["metadata": ["name": "p", "namespace": "ns", "finalizers": ["other/keep"]]]

    @Test func addAndRemoveWriteOnlyWhenSomethingChanges() throws {
        let added = try #require(Finalizers.adding("lucid.io/cleanup", to: object))
        #expect(added[path: "metadata", "finalizers"] == ["other/keep", "lucid.io/cleanup"])
        #expect(Finalizers.adding("lucid.io/cleanup", to: added) == nil)
        let removed = try #require(Finalizers.removing("lucid.io/cleanup", from: added))
        #expect(removed == object)
        #expect(Finalizers.removing("lucid.io/cleanup", from: removed) == nil)
        let last = try #require(Finalizers.removing("other/keep", from: object))
        #expect(last[path: "metadata", "finalizers"] == nil)
    }

    @Test func noNewFinalizerOnceDeletionStarted() {
        var deleting = object
        deleting["metadata"]?["deletionTimestamp"] = "2026-11-21T00:00:00Z"
        #expect(Finalizers.isDeleting(deleting))
        #expect(Finalizers.adding("lucid.io/cleanup", to: deleting) == nil)
    }

    @Test func ownedObjectsMapToTheirControllingOwner() {
        let cm: JSON = ["metadata": ["name": "gw-sidecar", "namespace": "shop", "ownerReferences": [
            ["kind": "Service", "name": "gw", "controller": true], ["kind": "Service", "name": "other"], ["kind": "Job", "name": "j", "controller": true],
        ]]]
        #expect(owners(of: cm, kind: "Service") == [ObjectRef(namespace: "shop", name: "gw")])
    }
}
