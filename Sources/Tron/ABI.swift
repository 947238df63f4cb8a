/// Solidity ABI encoding for the one call a payout makes.
public enum ABI {
    /// keccak256("transfer(address,uint256)")[0..<4] = a9059cbb.
    public static let transferSelector: [UInt8] = Array(Keccak256.hash(Array("transfer(address,uint256)".utf8)).prefix(4))
    /// keccak256("Transfer(address,address,uint256)"), the TRC20 Transfer event topic.
    public static let transferEventTopic: [UInt8] = Keccak256.hash(Array("Transfer(address,address,uint256)".utf8))

    /// The two 32-byte parameters of `transfer(to, amount)`: the 20-byte account id and the
    /// amount, both left-padded.
    public static func transferParameters(to: TronAddress, amount: Int64) -> [UInt8] {
        word(to.accountID) + word(amount)
    }

    /// Selector and parameters: the `data` of the TriggerSmartContract.
    public static func transferCall(to: TronAddress, amount: Int64) -> [UInt8] {
        transferSelector + transferParameters(to: to, amount: amount)
    }

    /// Reads `transfer(to, amount)` call data back; nil when it is anything else.
    public static func decodeTransferCall(_ data: [UInt8]) -> (to: TronAddress, amount: Int64)? {
        guard data.count == 68, Array(data.prefix(4)) == transferSelector else { return nil }
        let toWord = Array(data[4..<36]), amountWord = Array(data[36..<68])
        guard toWord.prefix(12).allSatisfy({ $0 == 0 }), amountWord.prefix(24).allSatisfy({ $0 == 0 }),
              let to = try? TronAddress(bytes: [0x41] + toWord.suffix(20)) else { return nil }
        let amount = amountWord.suffix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard amount <= UInt64(Int64.max) else { return nil }
        return (to, Int64(amount))
    }

    /// A 32-byte ABI word holding `bytes` right-aligned (an address's account id, in topics).
    public static func word(_ bytes: [UInt8]) -> [UInt8] { [UInt8](repeating: 0, count: 32 - bytes.count) + bytes }

    /// A 32-byte big-endian ABI word holding `value` (an amount, in log data).
    public static func word(_ value: Int64) -> [UInt8] {
        let v = UInt64(bitPattern: value)
        return [UInt8](repeating: 0, count: 24) + (0..<8).reversed().map { UInt8(truncatingIfNeeded: v >> (UInt64($0) * 8)) }
    }
}
