"""The team's query set for search relevance: (query, the slug of the article it should find).

The kinds an ordinary reader types: typos, words typed so far, British and American spellings,
synonyms and abbreviations, API names from the code, and several words together.
"""

BN, CNN, POOL, RF, RELU = (
    "batch-normalisation",
    "deep-learning-vs-cnn",
    "pooling-feature-map",
    "receptive-field-depth",
    "relu-vs-sigmoid-gradients",
)

QUERIES = [
    # typos
    ("convolutonal neural network", CNN),
    ("recepetive field", RF),
    ("receptive feild depth", RF),
    ("batch normalsation", BN),
    ("pooling layre feature map", POOL),
    ("sigmiod gradients", RELU),
    ("relu vs sigmod", RELU),
    ("vanishing gradeint sigmoid", RELU),
    ("featrue map pooling", POOL),
    ("normalisaton eval mode", BN),
    ("convoluton weight sharing", CNN),
    # prefixes typed so far
    ("recep", RF),
    ("batchn", BN),
    ("batch norm", BN),
    ("receptive fi", RF),
    ("pooling lay", POOL),
    ("relu rather than sigm", RELU),
    ("deep learning and convolutional neural net", CNN),
    ("max pool", POOL),
    # British and American spellings
    ("batch normalization", BN),
    ("what does batch normalization change", BN),
    ("normalizing activations per channel", BN),
    ("standardize each channel mini-batch", BN),
    # synonyms and abbreviations
    ("CNN vs deep learning", CNN),
    ("what is a cnn", CNN),
    ("BN eval mode", BN),
    ("DL versus convnet", CNN),
    ("convnet receptive field", RF),
    ("rectified linear unit sigmoid", RELU),
    # API names
    ("nn.BatchNorm1d", BN),
    ("BatchNorm1d", BN),
    ("running_mean", BN),
    ("running_var", BN),
    ("nn.MaxPool2d", POOL),
    ("MaxPool2d", POOL),
    ("max_pool2d", POOL),
    ("avg_pool2d", POOL),
    ("nn.AvgPool2d", POOL),
    ("torch.sigmoid", RELU),
    ("nn.Sigmoid", RELU),
    ("rf_formula", RF),
    ("requires_grad receptive field", RF),
    ("torch.roll", CNN),
    ("kernel_size parameters", CNN),
    ("model.eval()", BN),
    # several words
    ("how does a receptive field grow with depth", RF),
    ("why relu rather than sigmoid", RELU),
    ("pooling layer feature map", POOL),
    ("weight sharing convolution parameters", CNN),
    ("train mode eval mode different outputs", BN),
    ("internal covariate shift", BN),
    ("gradient of sigmoid saturates", RELU),
    ("stacking 3x3 convolutions receptive field", RF),
    ("max pooling versus average pooling", POOL),
    ("translation invariance pooling", POOL),
    # words no article has together: the fallback to most of them
    ("receptive field quaternion depth", RF),
    ("batch normalisation running averages zebra", BN),
]
