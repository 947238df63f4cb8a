import Registry
import Testing
import YAML

/// Health aggregated from EndpointSlices.
@Suite struct HealthTests {
    func health(_ slices: [JSON]) -> RegistryEntry.Health {
        .aggregate(endpointSlices: slices, service: "payments", namespace: "lucid", now: now)
    }

    @Test func everyEndpointReadyIsPassing() {
        let h = health([slice("a", [EndpointFixture(address: "10.0.0.1"), EndpointFixture(address: "10.0.0.2")])])
        #expect(h == RegistryEntry.Health(status: .passing, ready: 2, total: 2, lastHealthCheck: now))
    }

    @Test func someEndpointsReadyIsWarning() {
        let h = health([slice("a", [EndpointFixture(address: "10.0.0.1"), EndpointFixture(address: "10.0.0.2", ready: false)])])
        #expect(h.status == .warning && h.ready == 1 && h.total == 2)
    }

    @Test func noEndpointReadyIsCritical() {
        let h = health([slice("a", [EndpointFixture(address: "10.0.0.1", ready: false)])])
        #expect(h.status == .critical && h.ready == 0 && h.total == 1)
    }

    @Test func noEndpointsAtAllIsCritical() {
        #expect(health([]) == RegistryEntry.Health(status: .critical, ready: 0, total: 0, lastHealthCheck: now))
        #expect(health([slice("empty", [])]).status == .critical)
    }

    @Test func anAbsentReadyConditionCountsAsReady() {
        #expect(health([slice("a", [EndpointFixture(address: "10.0.0.1", ready: nil)])]).status == .passing)
    }

    @Test func terminatingEndpointsDoNotCount() {
        let h = health([slice("a", [EndpointFixture(address: "10.0.0.1"), EndpointFixture(address: "10.0.0.2", ready: false, terminating: true)])])
        #expect(h.status == .passing && h.total == 1)
    }

    @Test func endpointsAcrossSlicesAddUp() {
        let h = health([slice("a", [EndpointFixture(address: "10.0.0.1")]), slice("b", [EndpointFixture(address: "10.0.1.1", ready: false)])])
        #expect(h.ready == 1 && h.total == 2)
    }

    @Test func aPodInBothDualStackSlicesCountsOnce() {
        let h = health([
            slice("v4", [EndpointFixture(address: "10.0.0.1", pod: "p1"), EndpointFixture(address: "10.0.0.2", pod: "p2")]),
            slice("v6", [EndpointFixture(address: "fd00::1", pod: "p1"), EndpointFixture(address: "fd00::2", pod: "p2")], addressType: "IPv6"),
        ])
        #expect(h.ready == 2 && h.total == 2)
    }

    @Test func slicesOfOtherServicesOrNamespacesAreIgnored() {
        let h = health([
            slice("mine", [EndpointFixture(address: "10.0.0.1")]),
            slice("other", service: "wallet", [EndpointFixture(address: "10.0.0.9", ready: false)]),
            slice("elsewhere", namespace: "other", [EndpointFixture(address: "10.0.0.8", ready: false)]),
        ])
        #expect(h.status == .passing && h.total == 1)
    }

    @Test func unchangedHealthKeepsItsTimeAndAChangeTakesTheNewOne() throws {
        let slices = [slice("a", [EndpointFixture(address: "10.0.0.1")])]
        let first = try entry(slices: slices, at: now)
        let again = try entry(slices: slices, at: later).keepingHealthTime(of: first)
        #expect(again.health.lastHealthCheck == now)
        #expect(again.encoded() == first.encoded())
        let changed = try entry(slices: [slice("a", [EndpointFixture(address: "10.0.0.1", ready: false)])], at: later).keepingHealthTime(of: first)
        #expect(changed.health.lastHealthCheck == later && changed.health.status == .critical)
        #expect(try entry(at: later).keepingHealthTime(of: nil).health.lastHealthCheck == later)
    }
}
