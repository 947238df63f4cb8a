import Registry
import Testing
import YAML

/// A Service (and its EndpointSlices) → its registry entry, field by field.
@Suite struct EntryTests {
    @Test func theEntryHasTheSeedsShapeInACanonicalEncoding() throws {
        var service = ServiceFixture()
        service.labels["app.kubernetes.io/version"] = "1.4.2"
        service.annotations = [
            "mesh.lucid.io/path": "/api/v1",
            "mesh.lucid.io/metadata.team": "payments",
            "mesh.lucid.io/metadata.tier": "critical",
            "mesh.lucid.io/health-check-path": "/healthz",
            "unrelated.example.com/note": "ignored",
        ]
        service.ports = [["name": "https-api", "port": 8443, "protocol": "TCP"]]
        let slices = [slice("payments-1", [EndpointFixture(address: "10.0.0.1", pod: "a"), EndpointFixture(address: "10.0.0.2", ready: false, pod: "b")])]
        let text = String(decoding: try entry(service, slices: slices).encoded(), as: UTF8.self)
        #expect(text == #"{"serviceId":"550e8400-e29b-41d4-a716-446655440000","serviceName":"payments","cluster":"tron-payment","plane":"wallet","endpoint":{"host":"payments.lucid.svc.cluster.local","port":8443,"protocol":"https","path":"/api/v1"},"version":"1.4.2","metadata":{"team":"payments","tier":"critical"},"healthCheck":{"endpoint":"/healthz","interval":10,"timeout":5,"retries":3},"health":{"status":"warning","ready":1,"total":2,"lastHealthCheck":"2026-01-10T19:08:00Z"}}"#)
    }

    @Test func equalEntriesAreByteEqualWhateverTheOrderOfTheirMetadata() throws {
        var a = try entry()
        var b = a
        a.metadata = ["z": "1", "a": "2", "m": "3"]
        b.metadata = [:]
        for key in ["m", "a", "z"] { b.metadata[key] = a.metadata[key] }
        #expect(a.encoded() == b.encoded())
    }

    @Test func anEntryReadsBackFromItsBytes() throws {
        var service = ServiceFixture()
        service.annotations = ["mesh.lucid.io/metadata.owner": "ops \"team\" ✓"]
        let original = try entry(service, slices: [slice("s", [EndpointFixture(address: "10.0.0.1")])])
        #expect(try RegistryEntry(decoding: original.encoded()) == original)
    }

    @Test func bytesThatAreNotAnEntryAreRefusedWithTheField() {
        for (bytes, field) in [("not json", "not JSON"), (#"{"serviceId":"x"}"#, "serviceName"),
                               (#"{"serviceId":"x","serviceName":"y","cluster":"mars"}"#, "cluster")] {
            #expect(throws: RegistryError.self) { try RegistryEntry(decoding: Array(bytes.utf8)) }
            do { _ = try RegistryEntry(decoding: Array(bytes.utf8)) } catch {
                #expect(error.reason == .invalidEntry && error.message.contains(field), "\(error)")
            }
        }
    }

    @Test func serviceIdIsTheUidAndServiceNameTheName() throws {
        let e = try entry()
        #expect(e.serviceId == "550e8400-e29b-41d4-a716-446655440000")
        #expect(e.serviceName == "payments")
        var noUID = ServiceFixture()
        noUID.uid = ""
        #expect(refusal(noUID)?.reason == .missingField)
    }

    @Test func everyOneOfTheNineClustersIsAccepted() throws {
        #expect(LucidCluster.allCases.count == 9)
        for cluster in LucidCluster.allCases {
            var service = ServiceFixture()
            service.labels["mesh.lucid.io/cluster"] = cluster.rawValue
            #expect(try entry(service).cluster == cluster)
        }
    }

    @Test func aMissingClusterLabelIsRefusedSayingWhatToSet() {
        var service = ServiceFixture()
        service.labels["mesh.lucid.io/cluster"] = nil
        let error = refusal(service)
        #expect(error?.reason == .missingClusterLabel)
        #expect(error?.message.contains("api-gateway") == true && error?.service == "lucid/payments")
        #expect(error?.reason.rawValue == "MissingClusterLabel")
    }

    @Test func aClusterOutsideTheNineIsRefused() {
        var service = ServiceFixture()
        service.labels["mesh.lucid.io/cluster"] = "billing"
        let error = refusal(service)
        #expect(error?.reason == .unknownCluster)
        #expect(error?.message.contains("billing") == true && error?.message.contains("tron-payment") == true)
    }

    @Test func thePlaneMustBeOpsChainOrWallet() throws {
        for plane in Plane.allCases {
            var service = ServiceFixture()
            service.labels["mesh.lucid.io/plane"] = plane.rawValue
            #expect(try entry(service).plane == plane)
        }
        var missing = ServiceFixture()
        missing.labels["mesh.lucid.io/plane"] = nil
        #expect(refusal(missing)?.reason == .missingPlaneLabel)
        var unknown = ServiceFixture()
        unknown.labels["mesh.lucid.io/plane"] = "data"
        #expect(refusal(unknown)?.reason == .unknownPlane)
    }

    @Test func theHostIsTheServicesDNSNameInTheClusterDomain() throws {
        #expect(try entry().endpoint.host == "payments.lucid.svc.cluster.local")
        #expect(try entry(options: RegistryOptions(clusterDomain: "Mesh.Example.")).endpoint.host == "payments.lucid.svc.mesh.example")
    }

    @Test func theFirstPortIsRegisteredUnlessAnAnnotationNamesAnother() throws {
        var service = ServiceFixture()
        service.ports = [["name": "http", "port": 8080], ["name": "grpc-internal", "port": 9090], ["name": "metrics", "port": 9100]]
        #expect(try entry(service).endpoint.port == 8080)
        service.annotations["mesh.lucid.io/port"] = "grpc-internal"
        #expect(try entry(service).endpoint.port == 9090)
        #expect(try entry(service).endpoint.protocol == .grpc)
        service.annotations["mesh.lucid.io/port"] = "9100"
        #expect(try entry(service).endpoint.port == 9100)
        service.annotations["mesh.lucid.io/port"] = "admin"
        let error = refusal(service)
        #expect(error?.reason == .unknownPort && error?.message.contains("grpc-internal (9090)") == true)
    }

    @Test func aServiceWithoutPortsIsRefused() {
        var service = ServiceFixture()
        service.ports = []
        #expect(refusal(service)?.reason == .noPorts)
    }

    @Test func appProtocolDecidesTheProtocol() throws {
        let cases: [(String, RegistryEntry.EndpointProtocol)] = [
            ("http", .http), ("HTTPS", .https), ("grpc", .grpc), ("grpc-web", .grpc), ("http2", .http),
            ("kubernetes.io/h2c", .http), ("kubernetes.io/ws", .http), ("kubernetes.io/wss", .https),
        ]
        for (appProtocol, expected) in cases {
            var service = ServiceFixture()
            service.ports = [["name": "grpc", "port": 80, "appProtocol": .string(appProtocol)]]
            #expect(try entry(service).endpoint.protocol == expected, "\(appProtocol)")
        }
    }

    @Test func anAppProtocolThatIsNotHTTPIsRefused() {
        var service = ServiceFixture()
        service.ports = [["name": "db", "port": 5432, "appProtocol": "postgresql"]]
        let error = refusal(service)
        #expect(error?.reason == .unsupportedProtocol && error?.message.contains("postgresql") == true)
    }

    @Test func withoutAppProtocolThePortNameDecidesAndHTTPIsTheDefault() throws {
        let cases: [(String, RegistryEntry.EndpointProtocol)] = [
            ("http", .http), ("http-web", .http), ("http2", .http), ("https", .https), ("https-admin", .https),
            ("grpc", .grpc), ("grpc-web", .grpc), ("web", .http), ("", .http), ("api", .http),
        ]
        for (name, expected) in cases {
            var service = ServiceFixture()
            service.ports = [["name": .string(name), "port": 80]]
            #expect(try entry(service).endpoint.protocol == expected, "\(name)")
        }
    }

    @Test func aPortNamedForAnotherProtocolIsRefused() {
        for name in ["tcp", "redis", "tcp-raw", "mysql-primary"] {
            var service = ServiceFixture()
            service.ports = [["name": .string(name), "port": 6379]]
            #expect(refusal(service)?.reason == .unsupportedProtocol, "\(name)")
        }
    }

    @Test func aUDPPortIsRefused() {
        var service = ServiceFixture()
        service.ports = [["name": "http", "port": 53, "protocol": "UDP"]]
        #expect(refusal(service)?.reason == .unsupportedProtocol)
    }

    @Test func thePathComesFromItsAnnotationAndDefaultsToTheRoot() throws {
        #expect(try entry().endpoint.path == "/")
        var service = ServiceFixture()
        service.annotations["mesh.lucid.io/path"] = "/api/v1"
        #expect(try entry(service).endpoint.path == "/api/v1")
        service.annotations["mesh.lucid.io/path"] = "api"
        #expect(refusal(service)?.reason == .invalidAnnotation)
    }

    @Test func theVersionComesFromTheStandardLabel() throws {
        #expect(try entry().version == "unknown")
        var service = ServiceFixture()
        service.labels["app.kubernetes.io/version"] = "2.0.1"
        #expect(try entry(service).version == "2.0.1")
    }

    @Test func metadataComesFromPrefixedAnnotationsOnly() throws {
        var service = ServiceFixture()
        service.annotations = ["mesh.lucid.io/metadata.region": "eu", "mesh.lucid.io/path": "/x", "mesh.lucid.io/metadataX": "no"]
        #expect(try entry(service).metadata == ["region": "eu"])
        service.annotations = ["mesh.lucid.io/metadata.": "nameless"]
        #expect(refusal(service)?.reason == .invalidAnnotation)
    }

    @Test func healthCheckDefaultsAreDocumented() throws {
        #expect(try entry().healthCheck == RegistryEntry.HealthCheck(endpoint: "/health", interval: 10, timeout: 5, retries: 3))
    }

    @Test func healthCheckAnnotationsOverrideTheDefaults() throws {
        var service = ServiceFixture()
        service.annotations = ["mesh.lucid.io/health-check-path": "/ready", "mesh.lucid.io/health-check-interval": "30",
                               "mesh.lucid.io/health-check-timeout": "2", "mesh.lucid.io/health-check-retries": "0"]
        #expect(try entry(service).healthCheck == RegistryEntry.HealthCheck(endpoint: "/ready", interval: 30, timeout: 2, retries: 0))
    }

    @Test func aShortIntervalShortensTheDefaultTimeout() throws {
        var service = ServiceFixture()
        service.annotations = ["mesh.lucid.io/health-check-interval": "2"]
        #expect(try entry(service).healthCheck.timeout == 2)
    }

    @Test func invalidHealthCheckAnnotationsAreRefusedNamingThem() {
        let bad = [("mesh.lucid.io/health-check-interval", "10s"), ("mesh.lucid.io/health-check-interval", "0"),
                   ("mesh.lucid.io/health-check-timeout", "-1"), ("mesh.lucid.io/health-check-retries", "many"),
                   ("mesh.lucid.io/health-check-path", "health")]
        for (key, value) in bad {
            var service = ServiceFixture()
            service.annotations = [key: value]
            let error = refusal(service)
            #expect(error?.reason == .invalidAnnotation && error?.message.contains(key) == true, "\(key)=\(value)")
        }
        var service = ServiceFixture()
        service.annotations = ["mesh.lucid.io/health-check-interval": "5", "mesh.lucid.io/health-check-timeout": "6"]
        #expect(refusal(service)?.message.contains("must not exceed") == true)
    }

    @Test func entryKeysAreThePrefixNamespaceAndName() throws {
        #expect(try RegistryOptions().key(namespace: "lucid", name: "payments") == "/lucid/registry/lucid/payments")
        #expect(try RegistryOptions(prefix: "/mesh/services").key(namespace: "a", name: "b") == "/mesh/services/a/b")
        #expect(throws: RegistryError.self) { try RegistryOptions(prefix: "") }
        #expect(throws: RegistryError.self) { try RegistryOptions(prefix: "/a//b/") }
    }
}
