export {
  fashionMnist, FashionMnistOptions, ImageSet, FASHION_MNIST_CLASSES, DEBIAN_FASHION_MNIST_DIR,
  fashionMnistSubsetDir, fashionMnistSearchPath, findFashionMnist, imagesToFloat, firstPerClass, writeFashionMnistSubset,
} from "./fashionMnist";
