"The MNIST study of LSUV: course-v3 07a's model and data, its reproduction (`lsuv-07a`) and the order-study grid (`lsuv-study`)"
