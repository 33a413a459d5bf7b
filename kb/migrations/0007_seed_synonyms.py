"""Synonyms readers type for the same things; staff edit them in the admin afterwards."""

from django.db import migrations

SEED = [
    "CNN, convnet, convolutional neural network",
    "RNN, recurrent neural network",
    "LSTM, long short-term memory",
    "DL, deep learning",
    "ML, machine learning",
    "NN, neural network",
    "BN, batchnorm, batch normalisation",
    "GAN, generative adversarial network",
    "SGD, stochastic gradient descent",
    "PCA, principal component analysis",
    "MLP, multilayer perceptron",
    "NLP, natural language processing",
    "ReLU, rectified linear unit",
    "lr, learning rate",
    "df, dataframe",
]


def seed(apps, schema_editor):
    Synonym = apps.get_model("kb", "Synonym")
    for terms in SEED:
        Synonym.objects.get_or_create(terms=terms)


def unseed(apps, schema_editor):
    apps.get_model("kb", "Synonym").objects.filter(terms__in=SEED).delete()


class Migration(migrations.Migration):
    dependencies = [("kb", "0006_search_extensions_and_indexes")]
    operations = [migrations.RunPython(seed, unseed)]
