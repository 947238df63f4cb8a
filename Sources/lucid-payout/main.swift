print("lucid-payout")
