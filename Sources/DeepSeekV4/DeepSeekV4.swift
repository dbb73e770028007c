import Weights
