import Tron
