/// A TRON network a payout can be made on: its TronGrid endpoint and its USDT contract.
public struct TronNetwork: Sendable, Equatable {
    public var name: String
    public var baseURL: String
    /// The TRC20 USDT contract; nil where the network has none we pay with.
    public var usdtContract: TronAddress?

    public init(name: String, baseURL: String, usdtContract: TronAddress?) {
        self.name = name
        self.baseURL = baseURL
        self.usdtContract = usdtContract
    }

    public static let mainnet = TronNetwork(name: "mainnet", baseURL: "https://api.trongrid.io",
                                            usdtContract: try! TronAddress("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"))
    public static let nile = TronNetwork(name: "nile", baseURL: "https://nile.trongrid.io",
                                         usdtContract: try! TronAddress("TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"))
    public static let shasta = TronNetwork(name: "shasta", baseURL: "https://api.shasta.trongrid.io", usdtContract: nil)

    public static let all = [mainnet, nile, shasta]

    public static func named(_ name: String) -> TronNetwork? { all.first { $0.name == name.lowercased() } }

    /// The same network reached at another URL (a test chain, a private node).
    public func at(_ url: String) -> TronNetwork {
        var copy = self
        copy.baseURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        return copy
    }
}
