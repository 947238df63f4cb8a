import Registry
import Testing
import YAML

/// SkyDNS records in the layout of CoreDNS's etcd plugin.
@Suite struct SkyDNSTests {
    func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    @Test func theZoneIsTheDomainReversedUnderTheRoot() throws {
        let dns = try DNSOptions(domain: "lucid.local")
        #expect(dns.zonePath == "/skydns/local/lucid")
        #expect(dns.servicePath(namespace: "lucid", name: "payments") == "/skydns/local/lucid/lucid/payments")
        #expect(try DNSOptions(domain: "mesh.corp.example", root: "/dns").zonePath == "/dns/example/corp/mesh")
    }

    @Test func aClusterIPBecomesAnARecordThatAlsoAnswersSRV() throws {
        let records = SkyDNS.records(service: ServiceFixture().json, endpointSlices: [], port: 8080, options: try DNSOptions(domain: "lucid.local"))
        #expect(records.count == 1)
        #expect(text(records["/skydns/local/lucid/lucid/payments/10-96-0-12"]) == #"{"host":"10.96.0.12","port":8080,"priority":10,"weight":100,"ttl":30}"#)
    }

    @Test func priorityWeightAndTTLAreOptions() throws {
        let records = SkyDNS.records(service: ServiceFixture().json, endpointSlices: [], port: 80,
                                     options: try DNSOptions(domain: "lucid.local", ttl: 5, priority: 1, weight: 7))
        #expect(text(records.values.first) == #"{"host":"10.96.0.12","port":80,"priority":1,"weight":7,"ttl":5}"#)
    }

    @Test func dualStackServicesGetOneRecordPerFamily() throws {
        var service = ServiceFixture()
        service.clusterIPs = ["10.96.0.12", "fd00:10:96::c"]
        let keys = SkyDNS.records(service: service.json, endpointSlices: [], port: 8080, options: try DNSOptions(domain: "lucid.local")).keys.sorted()
        #expect(keys == ["/skydns/local/lucid/lucid/payments/10-96-0-12", "/skydns/local/lucid/lucid/payments/fd00-10-96--c"])
    }

    @Test func aHeadlessServiceGetsItsReadyEndpoints() throws {
        var service = ServiceFixture()
        service.clusterIPs = ["None"]
        let slices = [slice("a", [EndpointFixture(address: "10.0.0.2"), EndpointFixture(address: "10.0.0.1"),
                                  EndpointFixture(address: "10.0.0.3", ready: false), EndpointFixture(address: "10.0.0.4", terminating: true)])]
        let records = SkyDNS.records(service: service.json, endpointSlices: slices, port: 8080, options: try DNSOptions(domain: "lucid.local"))
        #expect(records.keys.sorted() == ["/skydns/local/lucid/lucid/payments/10-0-0-1", "/skydns/local/lucid/lucid/payments/10-0-0-2"])
    }

    @Test func anExternalNameServiceBecomesACNAME() throws {
        var service = ServiceFixture()
        service.type = "ExternalName"
        service.clusterIPs = []
        service.externalName = "payments.example.com"
        let records = SkyDNS.records(service: service.json, endpointSlices: [], port: 443, options: try DNSOptions(domain: "lucid.local"))
        #expect(text(records["/skydns/local/lucid/lucid/payments/payments-example-com"])?.contains(#""host":"payments.example.com""#) == true)
    }

    @Test func domainsAreNormalisedOrRefused() throws {
        #expect(try DNSOptions(domain: "Lucid.Local.").domain == "lucid.local")
        for bad in ["", "lucid..local", "-lucid.local", "lucid_local", "luc id.local", String(repeating: "a", count: 64) + ".local"] {
            #expect(throws: RegistryError.self, "\(bad)") { try DNSOptions(domain: bad) }
        }
        #expect(throws: RegistryError.self) { try DNSOptions(domain: "lucid.local", root: "skydns") }
        #expect(throws: RegistryError.self) { try DNSOptions(domain: "lucid.local", root: "/skydns/") }
        #expect(throws: RegistryError.self) { try DNSOptions(domain: "lucid.local", ttl: -1) }
    }

    @Test func theRegistryPrefixAndTheDNSZoneMustNotOverlap() throws {
        let dns = try DNSOptions(domain: "lucid.local")
        #expect(throws: RegistryError.self) { try RegistryOptions(prefix: "/skydns/", dns: dns) }
        #expect(throws: RegistryError.self) { try RegistryOptions(prefix: "/skydns/local/lucid/x/", dns: dns) }
        _ = try RegistryOptions(prefix: "/lucid/registry/", dns: dns)
    }
}
